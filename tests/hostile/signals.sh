#!/usr/bin/env bash
# signals.sh ROMIMG ROOTWRITE DIR: a real `romimg build` (one static test service whose jail also
# includes 48 MB of random bytes, so the root filesystem's mksquashfs runs for seconds) is sent
# SIGINT, SIGTERM and SIGKILL while mksquashfs runs. Each must end the run within 2 s with
# mksquashfs gone (SIGINT/SIGTERM: status 130 and the "interrupted" message), publish no
# base-cache entry and no ISO, and leave no mount. Root; exit 77 otherwise.
set -u
romimg=$(realpath "$1") rootwrite=$(realpath "$2") dir=$(realpath -m "$3")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v mksquashfs > /dev/null || { echo "SKIP: mksquashfs missing (make deps)"; exit 77; }
t=$dir/signals
rm -rf "$t" && mkdir -p "$t/templates" "$t/bulk" || exit 1
trap 'rm -rf "$t"' EXIT
head -c 48M /dev/urandom > "$t/bulk/random"
. "$(dirname "$0")/test_service.sh"
test_template "$t/templates/sigtest.toml" "hostile.signals: a static service with a slow root filesystem" "$rootwrite" "$t/bulk"

fail=0
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
leftovers() { pgrep -a -f -- "$t/work-" || true; }

# try SIGNAL: one build interrupted by SIGNAL while its root filesystem is being packed.
try() {
    local sig=$1 work=$t/work-$1 cache=$t/cache-$1 out=$t/out-$1/romimg.iso
    mkdir -p "$t/out-$sig"
    # xz (no --fast): zstd packs 48 MB too quickly to be caught reliably.
    ROMIMG_TEMPLATES=$t/templates ROMIMG_CACHE=$cache "$romimg" build sigtest -o "$out" --work "$work" \
        > "$t/$sig.out" 2> "$t/$sig.err" &
    local pid=$! sq="" i
    for i in $(seq 600); do
        sq=$(pgrep -P "$pid" -x mksquashfs) && break
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if [ -z "$sq" ]; then
        echo "FAIL($sig): mksquashfs never ran under romimg" >&2; cat "$t/$sig.err" >&2; fail=1
        kill -KILL "$pid" 2> /dev/null; wait "$pid"; return
    fi
    sleep 0.5
    kill -0 "$sq" 2> /dev/null || { echo "FAIL($sig): mksquashfs ended before the signal; no interrupt tested" >&2; fail=1; }
    local t0 st elapsed
    t0=$(now_ms)
    kill -"$sig" "$pid"
    wait "$pid"; st=$?
    # After SIGKILL romimg cannot reap: mksquashfs must die by itself (PDEATHSIG), as quickly.
    while [ -n "$(leftovers)" ] && [ $(( $(now_ms) - t0 )) -lt 2000 ]; do sleep 0.05; done
    elapsed=$(( $(now_ms) - t0 ))
    echo "$sig: romimg exited $st; run over after ${elapsed} ms"
    [ "$elapsed" -le 2000 ] || { echo "FAIL($sig): took ${elapsed} ms (limit 2000)" >&2; fail=1; }
    if [ -n "$(leftovers)" ]; then echo "FAIL($sig): processes left:" >&2; leftovers >&2; fail=1; fi
    if [ "$sig" != KILL ]; then
        [ "$st" -eq 130 ] || { echo "FAIL($sig): exit status $st, wanted 130" >&2; fail=1; }
        grep -q "romimg: error: interrupted" "$t/$sig.err" || { echo "FAIL($sig): no 'interrupted' message" >&2; cat "$t/$sig.err" >&2; fail=1; }
        if [ -n "$(ls -A "$cache/base" 2> /dev/null)" ]; then echo "FAIL($sig): the base cache holds:" >&2; ls -la "$cache/base" >&2; fail=1; fi
    else
        if [ -n "$(ls "$cache/base" 2> /dev/null)" ]; then echo "FAIL($sig): a base-cache entry was published" >&2; fail=1; fi
    fi
    if [ -n "$(ls -A "$t/out-$sig")" ]; then echo "FAIL($sig): output written:" >&2; ls -la "$t/out-$sig" >&2; fail=1; fi
    if grep -q " $t" /proc/self/mountinfo; then echo "FAIL($sig): mounts left:" >&2; grep " $t" /proc/self/mountinfo >&2; fail=1; fi
}

for sig in INT TERM KILL; do try "$sig"; done
[ $fail -eq 0 ] && echo PASS
exit $fail
