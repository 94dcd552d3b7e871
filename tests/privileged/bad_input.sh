#!/usr/bin/env bash
# Every kind of bad input gets a clear "romimg: error: ..." and leaves nothing behind: no output
# file, no process, no mount, no scratch dir.
set -uo pipefail
romimg=$1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
tmp=$(mktemp -d /tmp/romimg-bad-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
mounts_before=$(awk '{print $5}' /proc/self/mountinfo | sort | sha256sum)

# expect NAME STATUS PATTERN -- ARGS...
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" -ne "$want" ] || ! grep -qzE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: status $status (want $want), output:"; sed 's/^/  | /' <<<"$out"; fail=1; return
  fi
  if [ -e "$tmp/out.json" ]; then echo "FAIL $name: wrote $tmp/out.json"; fail=1; rm -f "$tmp/out.json"; fi
  if ls -d "$tmp"/work/trace-* >/dev/null 2>&1; then echo "FAIL $name: scratch left"; fail=1; fi
  echo "ok   $name: $(grep -m1 'romimg: error' <<<"$out")"
}
T=(--work "$tmp/work" --out "$tmp/out.json")

expect unknown-service 1 "romimg: error: unknown service 'nosuch'.*templates available" -- "$romimg" trace "${T[@]}" nosuch
expect command-not-found 1 "romimg: error: command not found: no-such-program" -- "$romimg" trace "${T[@]}" -- no-such-program
expect exits-before-ready 1 "romimg: error: sh exited with status 3 before it was ready.*tail-of-stderr" -- \
  "$romimg" trace "${T[@]}" --ready tcp:9 -- /bin/sh -c 'echo tail-of-stderr >&2; exit 3'
# A write refused at trace time (issue 18): the error names the path and the option or template
# line that gives the service a writable dir there.
expect refused-write 1 "romimg: error: sh exited with status 3 before it was ready.*it was refused a write outside its writable dirs:.*/run/romimg-bad-input.pid \(EACCES\).*fix: romimg trace --writable /run " -- \
  "$romimg" trace "${T[@]}" --user nobody --ready tcp:9 -- /bin/sh -c 'echo $$ > /run/romimg-bad-input.pid || exit 3'
expect refused-write-not-ready 1 "romimg: error: sh was not ready within 2 s \(port 9 never answered\).*it was refused a write outside its writable dirs:.*/run/romimg-bad-input.pid \(EACCES\)" -- \
  "$romimg" trace "${T[@]}" --user nobody --ready tcp:9 --ready-timeout 2 -- /bin/sh -c 'echo $$ > /run/romimg-bad-input.pid || exec sleep 60'
[ ! -e /run/romimg-bad-input.pid ] || { echo "FAIL refused-write: the host's /run was written"; fail=1; }
printf '[service]\ncommand = ["/bin/sh", "-c", "echo $$ > /run/romimg-bad-input.pid || exit 3"]\nuser = "nobody"\n[ready]\ncheck = "tcp:9"\n[jail]\nwritable = [{ path = "/tmp", size = "1m" }]\n' > "$tmp/pidfile.toml"
expect refused-write-template 1 "it was refused a write.*fix: in $tmp/pidfile.toml line 7, \[jail\] writable, add \{ path = \"/run\", size = \"1m\" \}" -- \
  "$romimg" trace "${T[@]}" "$tmp/pidfile.toml"
# ... and in its jail (romimg jail --verify: the jail's root is read-only, /var/lib not in it).
printf '[service]\ncommand = ["/bin/busybox", "sh", "-c", "echo x > /var/lib/romimg-bad-input.state || exit 4; exec /bin/busybox httpd -f -p 8099 -h /etc"]\n[ready]\ncheck = "tcp:8099"\n[trace]\nprobes = ["GET /hostname 200"]\n[jail]\ninclude = ["/etc/hostname"]\nwritable = [{ path = "/tmp", size = "1m" }]\n' > "$tmp/state.toml"
expect refused-write-jail 1 "romimg: error: state does not run from its jail.*exited with status 4 before it was ready.*/var/lib/romimg-bad-input.state \(ENOENT: its dir is not in the jail\).*fix: in $tmp/state.toml line 9, \[jail\] writable, add \{ path = \"/var/lib\", size = \"1m\" \}" -- \
  "$romimg" jail "$tmp/state.toml" --out "$tmp/state-jail" --work "$tmp/work" --verify
[ ! -e /var/lib/romimg-bad-input.state ] || { echo "FAIL refused-write-jail: the host's /var/lib was written"; fail=1; }
expect ready-timeout 1 "romimg: error: sleep was not ready within 2 s \(port 9 never answered\)" -- \
  "$romimg" trace "${T[@]}" --ready tcp:9 --ready-timeout 2 -- /bin/sleep 60
cat > "$tmp/bad.toml" <<'TOML'
[service]
command = ["/usr/sbin/apache2", "-DFOREGROUND"]
environment = { APACHE_RUN_DIR = "/run/apache2", APACHE_LOCK_DIR = "/run/lock/apache2", APACHE_LOG_DIR = "/var/log/apache2", APACHE_PID_FILE = "/run/apache2/apache2.pid", APACHE_RUN_USER = "www-data", APACHE_RUN_GROUP = "www-data" }
user = "www-data"
capabilities = ["CAP_NET_BIND_SERVICE"]
[ready]
check = "tcp:80"
[trace]
probes = ["GET /definitely-missing 200"]
[jail]
writable = ["/run/apache2", "/run/lock/apache2", "/var/log/apache2"]
TOML
expect probe-failure 1 "romimg: error: probe failed: GET http://127.0.0.1:80/definitely-missing 200.*got 404 instead of 200" -- \
  "$romimg" trace "${T[@]}" "$tmp/bad.toml"
printf '[service]\ncommand = ["/usr/sbin/apache2"\n' > "$tmp/syntax.toml"
expect template-syntax 1 "romimg: error: $tmp/syntax.toml:[0-9]+:" -- "$romimg" trace "${T[@]}" "$tmp/syntax.toml"
printf '[service]\ncommand = ["/usr/sbin/no-such-daemon"]\n' > "$tmp/missing.toml"
printf 'packages = ["no-such-package"]\n' | cat - "$tmp/missing.toml" > "$tmp/pkg.toml"
expect not-installed 1 "romimg: error: /usr/sbin/no-such-daemon is not installed: install no-such-package" -- \
  "$romimg" trace "${T[@]}" "$tmp/pkg.toml"
expect unknown-user 1 "romimg: error: user 'no-such-user' does not exist" -- \
  "$romimg" trace "${T[@]}" --user no-such-user -- /bin/true
expect not-root 1 "romimg: error: tracing a service needs root: .*namespaces.*ptrace" -- \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$romimg" trace --work /tmp/romimg-bad-nonroot -- /bin/true
expect usage-no-command 2 "romimg: error: romimg trace needs a SERVICE or -- COMMAND" -- "$romimg" trace
expect usage-bad-probe 2 "romimg: error: bad probe 'GET / abc'" -- "$romimg" trace --ready tcp:80 --probe 'GET / abc' -- /bin/true
expect usage-probe-no-ready 2 "romimg: error: --probe needs --ready" -- "$romimg" trace --probe 'GET / 200' -- /bin/true
expect ptrace-unavailable 1 "romimg: error: could not start the trace sandbox: ptrace is not available" -- \
  strace -f -qq -e trace=none -o /dev/null "$romimg" trace "${T[@]}" -- /bin/true

# romimg build --content: refused before any work, no ISO, no staging tree.
mkdir -p "$tmp/site"
echo hi > "$tmp/site/index.html"
echo "plain text" > "$tmp/notes.tar.gz"
B=("$romimg" build apache --fast -o "$tmp/out.iso" --work "$tmp/work")
expect content-syntax 2 "romimg: error: --content apache/var/www=x: not SERVICE:PATH=SOURCE" -- "${B[@]}" --content apache/var/www=x
expect content-service 2 "romimg: error: --content tomcat:/srv=.*'tomcat' is not one of the services being built" -- \
  "${B[@]}" --content "tomcat:/srv=$tmp/site"
expect content-normalized 2 "romimg: error: --content apache:/var/www/html/=.*not normalized \(write /var/www/html\)" -- \
  "${B[@]}" --content "apache:/var/www/html/=$tmp/site"
expect content-nested 2 "romimg: error: --content apache:/var/www/html=.*nested in --content apache:/var/www=" -- \
  "${B[@]}" --content "apache:/var/www=$tmp/site" --content "apache:/var/www/html=$tmp/site"
expect content-writable 2 "romimg: error: --content apache:/run=.*would hide the writable area /run/apache2" -- \
  "${B[@]}" --content "apache:/run=$tmp/site"
expect content-missing 2 "romimg: error: --content apache:/var/www/html=.*does not exist" -- \
  "${B[@]}" --content "apache:/var/www/html=$tmp/nowhere"
expect content-not-archive 2 "romimg: error: --content apache:/var/www/html=.*is not an archive romimg can read" -- \
  "${B[@]}" --content "apache:/var/www/html=$tmp/notes.tar.gz"
# Two services on one port (issue 18): the second could never bind it on the appliance.
expect same-port 2 "romimg: error: lighttpd and nginx both listen on port 80 \(service.ports in .*lighttpd.toml and .*nginx.toml\): build them into separate images" -- \
  "$romimg" build lighttpd nginx --fast -o "$tmp/out.iso" --work "$tmp/work"
[ -e "$tmp/out.iso" ] && { echo "FAIL: bad --content wrote an ISO"; fail=1; }
[ -n "$(ls -A "$tmp/work/content" 2>/dev/null)" ] && { echo "FAIL: bad --content left a staging tree"; fail=1; }

# romimg verify: not an ISO, an ISO romimg did not make, usage; no scratch dir left behind.
# Its scratch dirs go under a TMPDIR of this test's own, so other runs (a parallel verify test,
# a run someone killed) cannot make this check pass or fail.
mkdir -p "$tmp/vtmp"; export TMPDIR="$tmp/vtmp"
echo "not an iso" > "$tmp/not.iso"
expect verify-not-iso 1 "romimg: error: $tmp/not.iso is not an ISO 9660 image" -- "$romimg" verify "$tmp/not.iso"
mkdir -p "$tmp/tree" && echo hi > "$tmp/tree/hello.txt"
xorriso -as mkisofs -quiet -V OTHER -R -o "$tmp/other.iso" "$tmp/tree" 2>/dev/null
expect verify-foreign-iso 1 "romimg: error: $tmp/other.iso has no /romimg/image.json: it was not made by this romimg" -- \
  "$romimg" verify "$tmp/other.iso"
expect verify-missing 1 "romimg: error: no ISO at $tmp/none.iso" -- "$romimg" verify "$tmp/none.iso"
expect verify-usage 2 "romimg: error: romimg verify takes one ISO, got 0 arguments" -- "$romimg" verify
expect verify-usage-mem 2 "romimg: error: --mem 64 is too small" -- "$romimg" verify --mem 64 "$tmp/other.iso"
if [ -n "$(ls -A "$tmp/vtmp")" ]; then echo "FAIL: verify left a scratch dir: $(ls "$tmp/vtmp")"; fail=1; fi
unset TMPDIR

# A jail may have only allow-listed devices (issue 12): refused before any trace, with the list.
# A [data] dir that a process is writing (the host's own server still running) is not copied as
# the data disk's seed.
seed=$(mktemp -d /var/tmp/romimg-bad-seed-XXXXXX)
sleep 300 3>>"$seed/state" &
writer=$!
printf '[service]\ncommand = ["/bin/true"]\n[data]\npaths = ["%s"]\n' "$seed" > "$tmp/inuse.toml"
expect data-in-use 1 "romimg: error: $tmp/inuse.toml: $seed \(\[data\] of inuse\) is in use: sleep \(pid $writer\) has $seed/state open for writing.*stop that service first" -- \
  "$romimg" jail "$tmp/inuse.toml" --work "$tmp/work" --out "$tmp/jail-inuse"
[ ! -e "$tmp/jail-inuse" ] || { echo "FAIL data-in-use: a jail was written"; fail=1; }
kill $writer; wait $writer 2>/dev/null; rm -rf "$seed"
printf '[service]\ncommand = ["/bin/true"]\n[jail]\ndevices = ["/dev/sda"]\n' > "$tmp/disk.toml"
expect device-not-allowed 1 "romimg: error: $tmp/disk.toml:4: jail.devices: '/dev/sda' is not a device a jail may have \(allowed: /dev/null, /dev/zero, /dev/random, /dev/urandom, /dev/full, /dev/tty\)" -- \
  "$romimg" jail "$tmp/disk.toml" --work "$tmp/work" --out "$tmp/jail-disk"
[ ! -e "$tmp/jail-disk" ] || { echo "FAIL device-not-allowed: a jail was written"; fail=1; }

if pgrep -f "$tmp" >/dev/null || pgrep -x apache2 >/dev/null; then echo "FAIL: processes left"; fail=1; fi
[ "$mounts_before" = "$(awk '{print $5}' /proc/self/mountinfo | sort | sha256sum)" ] || { echo "FAIL: mounts changed"; fail=1; }
exit $fail
