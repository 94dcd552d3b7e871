#!/bin/sh
# build_test_iso.sh ROMIMG DIR LABEL: DIR/test.iso (the test init powers off when done) and
# DIR/hold.iso (it waits, for the monitor tests), from DIR/bzImage and DIR/test.cpio, with a
# small stand-in for live/root.sqfs.
set -eu
romimg=$1 dir=$2 label=$3
cd "$dir"
# Not a squashfs: the test init reads it back through iso9660 and checksums it (2 MB, so it
# spans many sectors).
seq 1 300000 > payload.bin
common="console=tty0 console=ttyS0,115200 panic=-1 iso_test.label=$label iso_test.payload=live/root.sqfs"
export SOURCE_DATE_EPOCH=1700000000
"$romimg" iso --kernel bzImage --initramfs test.cpio --add payload.bin=live/root.sqfs \
    --label "$label" --cmdline "$common" --work-dir work-test -o test.iso
"$romimg" iso --kernel bzImage --initramfs test.cpio --add payload.bin=live/root.sqfs \
    --label "$label" --cmdline "$common iso_test.hold" --work-dir work-hold -o hold.iso
ls -l test.iso hold.iso
