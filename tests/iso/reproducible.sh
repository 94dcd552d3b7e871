#!/bin/sh
# reproducible.sh ROMIMG DIR: the same inputs and SOURCE_DATE_EPOCH give the same ISO bytes,
# built in two different directories at different times from copies with different mtimes;
# a different epoch gives different bytes (so the comparison can fail); neither the build
# directory nor the host name appears in the image.
set -eu
romimg=$1 dir=$2
r=$dir/repro
rm -rf "$r"; mkdir -p "$r/one" "$r/two-longer-name"
for d in "$r/one" "$r/two-longer-name"; do
    cp "$dir/bzImage" "$dir/test.cpio" "$d/"
    printf 'payload\n' > "$d/root.sqfs"
done
touch -d '2001-01-01' "$r/two-longer-name/bzImage" "$r/two-longer-name/root.sqfs"
build() {  # build DIR EPOCH OUT
    (cd "$1" && SOURCE_DATE_EPOCH=$2 "$romimg" -q iso --kernel bzImage --initramfs test.cpio \
        --add root.sqfs=live/root.sqfs --label REPRO --cmdline "console=ttyS0" \
        --work-dir work -o "$3" >/dev/null)
}
build "$r/one" 1700000000 a.iso
sleep 2
build "$r/two-longer-name" 1700000000 b.iso
build "$r/one" 1700000001 c.iso
# SOURCE_DATE_EPOCH unset means epoch 0, which must be just as fixed.
(cd "$r/one" && env -u SOURCE_DATE_EPOCH "$romimg" -q iso --kernel bzImage --initramfs test.cpio \
    --add root.sqfs=live/root.sqfs --label REPRO --cmdline "console=ttyS0" --work-dir work -o d.iso >/dev/null)
sleep 2
(cd "$r/two-longer-name" && env -u SOURCE_DATE_EPOCH "$romimg" -q iso --kernel bzImage --initramfs test.cpio \
    --add root.sqfs=live/root.sqfs --label REPRO --cmdline "console=ttyS0" --work-dir work -o e.iso >/dev/null)
a=$(sha256sum < "$r/one/a.iso"); b=$(sha256sum < "$r/two-longer-name/b.iso")
c=$(sha256sum < "$r/one/c.iso")
d=$(sha256sum < "$r/one/d.iso"); e=$(sha256sum < "$r/two-longer-name/e.iso")
echo "a $a"; echo "b $b"; echo "c $c"; echo "d $d"; echo "e $e"
[ "$a" = "$b" ] || { echo "FAIL: two builds of the same inputs differ" >&2; exit 1; }
[ "$a" != "$c" ] || { echo "FAIL: SOURCE_DATE_EPOCH did not change the image" >&2; exit 1; }
[ "$d" = "$e" ] || { echo "FAIL: without SOURCE_DATE_EPOCH, two builds differ" >&2; exit 1; }
if grep -aq "$r" "$r/one/a.iso"; then echo "FAIL: the build path is in the image" >&2; exit 1; fi
h=$(hostname)
if [ ${#h} -ge 4 ] && grep -aq "$h" "$r/one/a.iso"; then
    echo "FAIL: the host name '$h' is in the image" >&2; exit 1
fi
echo PASS
