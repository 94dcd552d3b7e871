#!/usr/bin/env bash
# Issue 12: Debian's lighttpd with its default configuration opens /dev/null at start, so it only
# runs on the appliance if the jail's devices work. The image also carries `crasher`, a test-only
# service that exits before it is ready: init must print its last lines although the image is
# built without --log-console, and `romimg verify` must fail naming it, with those lines. And
# `slowstart`, ready later than its ready timeout: init restarts it with more time until it is.
set -uo pipefail
romimg=$1 boot=$2 iso=$3 templates=$4
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v lighttpd >/dev/null || { echo "FAIL: lighttpd is not installed (make deps installs it)"; exit 1; }
work=$(dirname "$iso")/work-lighttpd
rm -f "$iso"
ROMIMG_TEMPLATES=$templates "$romimg" -q build lighttpd crasher slowstart --fast -o "$iso" --work "$work" || { echo "FAIL: romimg build"; exit 1; }
fail=0
"$boot" "$iso" lighttpd poweroff 512 || fail=1

out=$work/verify.out
"$romimg" verify "$iso" --timeout 150 --work "$work/verify" --console "$work/verify-console.log" > "$out" 2>&1
status=$?
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
check "romimg verify fails on an image whose service never becomes ready (status $status)" '[ $status -eq 1 ]'
check "verify names crasher as not ready, with its last lines" \
      'tr "\n" " " < "$out" | grep -E "FAIL +crasher is ready .*crasher exited with status 3 before it was ready; its last lines: +\[crasher-console\] ROOTWRITE crashing on purpose" >/dev/null'
check "verify still finds lighttpd ready" 'grep -E "PASS.*lighttpd is ready" "$out" >/dev/null'
check "verify finds slowstart ready (after init gave it more time)" 'grep -E "PASS.*slowstart is ready" "$out" >/dev/null'
[ $fail -eq 0 ] || { echo "--- verify output ---"; cat "$out"; }
exit $fail
