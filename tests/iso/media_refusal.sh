#!/bin/sh
# media_refusal.sh ROMIMG DIR: a payload too large for a CD (a 740 MB sparse file) is refused
# with --media cd, naming the actual size, before anything is written; the same inputs with
# --media dvd are accepted by the size check (checked with a small payload to keep the test
# light), and nothing is left behind at the output path.
set -u
romimg=$1 dir=$2
m=$dir/media
rm -rf "$m"; mkdir -p "$m"
truncate -s 740M "$m/big.sqfs"
"$romimg" iso --kernel "$dir/bzImage" --initramfs "$dir/test.cpio" --add "$m/big.sqfs=live/root.sqfs" \
    --media cd --work-dir "$m/work" -o "$m/big.iso" > "$m/out" 2> "$m/err"
st=$?
cat "$m/err"
[ $st -eq 1 ] || { echo "FAIL: expected exit 1, got $st" >&2; exit 1; }
grep -Eq "the ISO is 7[4-9][0-9]{7} bytes \(.* MB\), which does not fit on a CD \(737280000 bytes" "$m/err" \
    || { echo "FAIL: the message does not name the actual size and the CD limit" >&2; exit 1; }
[ ! -e "$m/big.iso" ] || { echo "FAIL: big.iso exists after the refusal" >&2; exit 1; }
if ls -a "$m" | grep -q '\.tmp\.'; then echo "FAIL: a temporary ISO was left behind" >&2; exit 1; fi
printf 'small\n' > "$m/small.sqfs"
"$romimg" -q iso --kernel "$dir/bzImage" --initramfs "$dir/test.cpio" --add "$m/small.sqfs=live/root.sqfs" \
    --media dvd --work-dir "$m/work" -o "$m/small.iso" >/dev/null \
    || { echo "FAIL: a small ISO was refused for a DVD" >&2; exit 1; }
[ -s "$m/small.iso" ] || { echo "FAIL: no small.iso" >&2; exit 1; }
"$romimg" iso --media floppy --kernel "$dir/bzImage" --initramfs "$dir/test.cpio" -o "$m/x.iso" 2> "$m/err2"
st=$?
[ $st -eq 2 ] && grep -q "cd or dvd" "$m/err2" || { echo "FAIL: --media floppy: exit $st" >&2; cat "$m/err2" >&2; exit 1; }
echo PASS
