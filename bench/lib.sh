# Shared by the bench scripts (sourced, not run): the median of the numbers on stdin, and the
# time from START to a service's first HTTP 200.

# The median of one number per line on stdin; 0 for none.
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# first_200 PORT START [LIMIT_S] [CURL_MAX_S]: seconds from START (date +%s.%N) until GET / on
# 127.0.0.1:PORT (FIRST_200_HOST:PORT) answers 200, 0 if none within LIMIT_S (300). Timed after curl returns: QEMU's
# port forward accepts at once and holds the connection until the guest answers, and a JVM's
# first requests are slow under TCG (each may take up to CURL_MAX_S, 30).
first_200() {
  local port=$1 s=$2 limit=${3:-300} curl_max=${4:-30} code
  while :; do
    [ "$(echo "$(date +%s.%N) - $s > $limit" | bc)" = 1 ] && { echo 0; return; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$curl_max" "http://${FIRST_200_HOST:-127.0.0.1}:$port/" || true)
    [ "$code" = 200 ] && { echo "$(date +%s.%N) - $s" | bc; return; }
    sleep 0.2
  done
}
