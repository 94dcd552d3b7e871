#!/bin/sh
# interrupted.sh ROMIMG DIR: SIGTERM while xorriso writes a large image: romimg exits 130, the
# previous ISO at the output path is untouched, and no temporary ISO is left behind.
set -u
romimg=$1 dir=$2
t=$dir/interrupt
rm -rf "$t"; mkdir -p "$t"
truncate -s 800M "$t/big.sqfs"   # sparse: xorriso still writes 800 MB of zeros, which takes seconds
printf 'previous ISO\n' > "$t/out.iso"
"$romimg" iso --kernel "$dir/bzImage" --initramfs "$dir/test.cpio" --add "$t/big.sqfs=live/root.sqfs" \
    --work-dir "$t/work" -o "$t/out.iso" > "$t/out" 2> "$t/err" &
pid=$!
# Wait until xorriso has started writing the temporary ISO, then interrupt romimg.
i=0
while [ $i -lt 200 ] && ! ls -a "$t" | grep -q '\.out\.iso\.tmp\.'; do sleep 0.05; i=$((i+1)); done
ls -a "$t" | grep -q '\.out\.iso\.tmp\.' || { echo "FAIL: the temporary ISO never appeared" >&2; cat "$t/err" >&2; exit 1; }
kill -TERM $pid
wait $pid
st=$?
cat "$t/err"
fail=0
[ $st -eq 130 ] || { echo "FAIL: romimg exited $st, wanted 130 (interrupted)" >&2; fail=1; }
grep -q "interrupted" "$t/err" || { echo "FAIL: no 'interrupted' message" >&2; fail=1; }
[ "$(cat "$t/out.iso")" = "previous ISO" ] || { echo "FAIL: the previous ISO was replaced" >&2; fail=1; }
if ls -a "$t" | grep -q '\.tmp\.'; then echo "FAIL: temporary ISO left behind" >&2; ls -la "$t" >&2; fail=1; fi
rm -f "$t/big.sqfs"
[ $fail -eq 0 ] && echo PASS
exit $fail
