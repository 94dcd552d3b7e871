#!/usr/bin/env bash
# A traced service that writes under /etc, /var, /run and /tmp, and a daemonizing Apache, leave
# the host byte-identical (hash before and after) and leave no process, mount or scratch behind.
set -euo pipefail
romimg=$1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
tmp=$(mktemp -d /tmp/romimg-priv-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

snapshot() {
  # Content and metadata of everything the services below write to or near.
  # (/tmp is shared with whatever else runs on the machine: checked for the writer's file below.)
  { find /etc /var/lib /var/log /var/cache/apache2 /run -xdev \
        -path /var/lib/apt -prune -o -path /var/lib/dpkg -prune -o \
        -path /var/log/apt -prune -o -path /var/lib/systemd -prune -o \
        -printf '%p %y %m %u %g %s %T@\n' 2>/dev/null | sort
    sha256sum /etc/motd /etc/hostname /var/log/apache2/*.log 2>/dev/null; } | sha256sum
}
mounts() { awk '{print $5, $9}' /proc/self/mountinfo | sort | sha256sum; }

before=$(snapshot); mounts_before=$(mounts)
echo "host snapshot before: $before"

echo "--- a writer under /etc /var /run /tmp, with a daemon left running"
"$romimg" -q trace --work "$tmp/w1" --out "$tmp/writer.json" --timeout 3 -- /bin/sh -c '
  echo tampered >> /etc/motd; mkdir -p /var/lib/romimg-test; echo x > /var/lib/romimg-test/f
  echo y > /run/romimg-test.pid; echo z > /tmp/romimg-test-file; rm -f /etc/hostname
  setsid sleep 3600 </dev/null >/dev/null 2>&1 &
  exit 0'
grep -q '"/var/lib/romimg-test/f"' "$tmp/writer.json" || { echo "FAIL: trace misses the write"; exit 1; }

echo "--- apache2 -k start (forks into the background), ready on port 80, probed, stopped"
"$romimg" -q trace --work "$tmp/w2" --out "$tmp/apache.json" --ready tcp:80 --probe 'GET / 200' \
  --env APACHE_RUN_USER=www-data --env APACHE_RUN_GROUP=www-data --env APACHE_PID_FILE=/run/apache2/apache2.pid \
  --env APACHE_RUN_DIR=/run/apache2 --env APACHE_LOCK_DIR=/run/lock/apache2 --env APACHE_LOG_DIR=/var/log/apache2 \
  --writable /run/apache2 --writable /run/lock/apache2 -- /usr/sbin/apache2 -k start

after=$(snapshot); mounts_after=$(mounts)
echo "host snapshot after:  $after"
fail=0
[ "$before" = "$after" ] || { echo "FAIL: the host's files changed"; fail=1; }
[ ! -e /tmp/romimg-test-file ] || { echo "FAIL: /tmp/romimg-test-file was written on the host"; rm -f /tmp/romimg-test-file; fail=1; }
[ "$mounts_before" = "$mounts_after" ] || { echo "FAIL: the mount table changed"; fail=1; }
if pgrep -f 'sleep 3600' >/dev/null; then echo "FAIL: the daemonized sleep survived"; pkill -f 'sleep 3600'; fail=1; fi
if pgrep -x apache2 >/dev/null; then echo "FAIL: apache2 survived"; pgrep -a apache2; fail=1; fi
if ls -d "$tmp"/w*/trace-* 2>/dev/null; then echo "FAIL: scratch dirs left"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: host byte-identical, no process, mount or scratch left"
exit $fail
