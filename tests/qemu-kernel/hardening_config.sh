#!/bin/sh
# hardening_config.sh ROMIMG CHECK_HARDENING TABLE ARCH: the kernel the suite built (cached by
# qemu-kernel.build, so this only looks it up) has every kconfig row of the hardening table.
set -u
romimg=$1 check=$2 table=$3 arch=$4
bz=$("$romimg" kernel --arch "$arch" | tail -n 1) || { echo "FAIL: romimg kernel failed" >&2; exit 1; }
cfg=$(dirname "$bz")/config
[ -f "$cfg" ] || { echo "FAIL: no .config beside $bz" >&2; exit 1; }
echo "config: $cfg"
exec "$check" "$table" "$arch" --config "$cfg"
