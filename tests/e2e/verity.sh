#!/usr/bin/env bash
# dm-verity, end to end (label e2e; docs/verity.md). One small image (apache, zstd, a content
# layer with a 1 MiB file that is read only on request) is built, then copies of it with bytes
# changed in place on the medium are booted (BIOS CD unless said otherwise):
#   intact            serves; the console says the root and the content layer are verified
#   fec-one-block     the root's first 4 KiB block overwritten with random bytes: repaired by the
#                     parity, logged, serves
#   root-zeros        the root's first 64 KiB zeroed (beyond the parity): never serves, the kernel
#                     names the block and init says verity refused the root (BIOS and UEFI)
#   root-retreed      the root changed AND its hash tree (and parity) made again for the change,
#                     as an attacker without the initramfs's root hash would: refused
#   content-zeros     the content layer's first 64 KiB zeroed: refused before apache starts
#   content-runtime   256 KiB inside the big file zeroed: apache starts and serves /, then a GET
#                     of the big file makes the kernel report the block, and init names the layer,
#                     stops every service and halts
#   selftest-planted  a self-test (and tree) put on the medium that the image was not built with:
#                     init refuses to run it
set -euo pipefail
romimg=$1 dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v veritysetup >/dev/null || { echo "SKIP: veritysetup (cryptsetup-bin) is not installed"; exit 77; }
rm -rf "$dir"
mkdir -p "$dir/site"
echo "<h1>romimg-verity-test</h1>" > "$dir/site/index.html"
head -c 1048576 /dev/urandom > "$dir/site/big.bin"
iso=$dir/verity.iso
"$romimg" build apache --fast --log-console -o "$iso" --work "$dir/work" \
    --content apache:/var/www/html="$dir/site" > "$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

# Byte offset of a file's data in the ISO (xorriso: "File data lba: 0 , LBA , BLOCKS , SIZE , 'PATH'").
offset_of() {
    local lba
    lba=$(xorriso -indev "$1" -find "$2" -exec report_lba -- 2>/dev/null | awk -F, '/File data lba/ {gsub(/ /,"",$2); print $2; exit}')
    [ -n "$lba" ] || { echo "no $2 in $1" >&2; exit 1; }
    echo $((lba * 2048))
}
# patch ISO OFFSET FILE: FILE's bytes over ISO at OFFSET, in place.
patch() { dd if="$3" of="$1" bs=1 seek="$2" conv=notrunc status=none; }
zeros() { head -c "$1" /dev/zero > "$dir/zeros"; echo "$dir/zeros"; }

port=$((20000 + $$ % 20000))
# boot NAME ISO [--uefi]: boots until a 200 from / (result "served"), or init's FATAL (result
# "halted"), or 240 s; leaves the console in $dir/NAME.console and the result in $result.
boot() {
    local name=$1 image=$2 extra=${3:-}
    local console=$dir/$name.console
    "$romimg" boot "$image" $extra --forward "$port:80" < /dev/null > "$console" 2>&1 &
    local pid=$!
    result=timeout
    for _ in $(seq 1 240); do
        sleep 1
        if grep -aq "romimg-init: FATAL" "$console"; then result=halted; break; fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$port/" || true)" = 200 ]; then result=served; break; fi
    done
    booted_pid=$pid
}
stop() { pkill -P "$booted_pid" 2>/dev/null || true; kill "$booted_pid" 2>/dev/null || true; wait "$booted_pid" 2>/dev/null || true; }

root_at=$(offset_of "$iso" /live/root.sqfs)
content_at=$(offset_of "$iso" /live/content/apache-1.sqfs)

boot intact "$iso"
check "intact: serves" '[ "$result" = served ]'
check "intact: the root is mapped through dm-verity" 'grep -aq "romimg-init: root: dm-verity over live/root.sqfs" "$dir/intact.console"'
check "intact: the content layer is verified" 'grep -aq "content for apache: .*apache-1.sqfs .*(read-only, verity)" "$dir/intact.console"'
check "intact: Secure Boot is off and the console says what that means" 'grep -aq "Secure Boot is off: nothing anchors" "$dir/intact.console"'
stop

cp "$iso" "$dir/fec.iso"
head -c 4096 /dev/urandom > "$dir/block"
patch "$dir/fec.iso" "$root_at" "$dir/block"
boot fec-one-block "$dir/fec.iso"
check "fec-one-block: still serves" '[ "$result" = served ]'
check "fec-one-block: the repair is logged" 'grep -aq "verity-fec: .*corrected" "$dir/fec-one-block.console"'
stop

cp "$iso" "$dir/root-zeros.iso"
patch "$dir/root-zeros.iso" "$root_at" "$(zeros 65536)"
for fw in bios uefi; do
    boot "root-zeros-$fw" "$dir/root-zeros.iso" "$([ $fw = uefi ] && echo --uefi || true)"
    check "root-zeros ($fw): never serves, halts" '[ "$result" = halted ]'
    check "root-zeros ($fw): the kernel names the block" 'grep -aq "device-mapper: verity: 7:[0-9]*: data block [0-9]* is corrupted" "$dir/root-zeros-$fw.console"'
    check "root-zeros ($fw): init says verity refused the root" 'grep -aq "FATAL: verity refused the root filesystem" "$dir/root-zeros-$fw.console"'
    stop
done

# The attacker's way: change the root and make its tree and parity again (same salt, same size),
# without the initramfs's root hash.
cp "$iso" "$dir/retreed.iso"
root_size=$(xorriso -indev "$iso" -find /live/root.sqfs -exec report_lba -- 2>/dev/null | awk -F, '/File data lba/ {gsub(/ /,"",$4); print $4; exit}')
tree_at=$(offset_of "$iso" /live/root.sqfs.verity)
tree_size=$(xorriso -indev "$iso" -find /live/root.sqfs.verity -exec report_lba -- 2>/dev/null | awk -F, '/File data lba/ {gsub(/ /,"",$4); print $4; exit}')
dd if="$iso" of="$dir/root.sqfs" bs=2048 skip=$((root_at / 2048)) count=$((root_size / 2048)) status=none
printf 'X' | dd of="$dir/root.sqfs" bs=1 seek=200000 conv=notrunc status=none
xorriso -osirrox on -indev "$iso" -extract /romimg/image.json "$dir/image.json" >/dev/null 2>&1
salt=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["sha256"])' "$dir/image.json")
blocks=$((root_size / 4096))
hash_blocks=$(python3 -c 'import sys
n=int(sys.argv[1]); t=0
while True:
    n=(n+127)//128; t+=n
    if n<=1: break
print(t)' "$blocks")
: > "$dir/root.verity"
veritysetup format --no-superblock --hash=sha256 --data-block-size=4096 --hash-block-size=4096 --data-blocks=$blocks \
    --salt="$salt" --fec-device="$dir/root.verity" --fec-offset=$((hash_blocks * 4096)) --fec-roots=2 \
    "$dir/root.sqfs" "$dir/root.verity" > "$dir/retree.log"
check "root-retreed: the new tree is the size of the old one" '[ "$(stat -c %s "$dir/root.verity")" = "$tree_size" ]'
patch "$dir/retreed.iso" "$root_at" "$dir/root.sqfs"
patch "$dir/retreed.iso" "$tree_at" "$dir/root.verity"
boot root-retreed "$dir/retreed.iso"
check "root-retreed: never serves, halts" '[ "$result" = halted ]'
check "root-retreed: init says verity refused the root" 'grep -aq "FATAL: verity refused the root filesystem" "$dir/root-retreed.console"'
stop

cp "$iso" "$dir/content-zeros.iso"
patch "$dir/content-zeros.iso" "$content_at" "$(zeros 65536)"
boot content-zeros "$dir/content-zeros.iso"
check "content-zeros: never serves, halts" '[ "$result" = halted ]'
check "content-zeros: init names the layer" 'grep -aq "FATAL: verity refused the content layer /run/medium/live/content/apache-1.sqfs" "$dir/content-zeros.console"'
check "content-zeros: apache was never started" '! grep -aq "started apache" "$dir/content-zeros.console"'
stop

cp "$iso" "$dir/content-runtime.iso"
patch "$dir/content-runtime.iso" $((content_at + 262144)) "$(zeros 262144)"
boot content-runtime "$dir/content-runtime.iso"
check "content-runtime: serves / (the damage is elsewhere)" '[ "$result" = served ]'
curl -s -o /dev/null -m 20 "http://127.0.0.1:$port/big.bin" || true
for _ in $(seq 1 30); do grep -aq "romimg-init: FATAL" "$dir/content-runtime.console" && break; sleep 1; done
check "content-runtime: init names the layer and the block" 'grep -aq "VERITY: data block [0-9]* of /run/medium/live/content/apache-1.sqfs does not match its hash tree" "$dir/content-runtime.console"'
check "content-runtime: then halts" 'grep -aq "FATAL: verity refused data block" "$dir/content-runtime.console"'
check "content-runtime: apache no longer serves" '[ "$(curl -s -o /dev/null -w "%{http_code}" -m 5 "http://127.0.0.1:$port/" || true)" != 200 ]'
stop

# A self-test someone put on a release medium: not the one the image was built with.
printf '#!/bin/sh\necho planted\n' > "$dir/planted"
truncate -s 4096 "$dir/planted"
: > "$dir/planted.verity"
veritysetup format --no-superblock --data-blocks=1 --salt=00 "$dir/planted" "$dir/planted.verity" > /dev/null
xorriso -indev "$iso" -outdev "$dir/planted.iso" -boot_image any replay \
    -map "$dir/planted" /romimg/selftest -map "$dir/planted.verity" /romimg/selftest.verity > "$dir/planted.log" 2>&1
boot selftest-planted "$dir/planted.iso"
check "selftest-planted: serves" '[ "$result" = served ]'
check "selftest-planted: init refuses to run it" 'grep -aq "the medium has a self-test, but not one this image can verify: not running it" "$dir/selftest-planted.console"'
check "selftest-planted: it never ran" '! grep -aq "starting the self-test" "$dir/selftest-planted.console"'
stop

echo "$fails failed"
[ "$fails" -eq 0 ]
