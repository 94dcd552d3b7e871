#!/usr/bin/env bash
# Signed boot under UEFI Secure Boot, end to end (label e2e; docs/verity.md). Two test keys (A, B)
# made with openssl; one small image (apache + a content layer, zstd) signed with A, then:
#   verify-a        `romimg verify --secure-boot --sign-cert A`: every check passes, including
#                   "Secure Boot is on" and the content layer's signature checked by the kernel
#   reproducible    a second signed build in another work dir: the same unsigned kernel image, the
#                   same content layer signature, `romimg diff` finds nothing, and the ISOs differ
#                   only in the few hundred bytes of the kernel image's signature (sbsign stamps
#                   the signing time)
#   firmware-b      Secure Boot trusting only B: the firmware refuses the image (Access Denied)
#   cmdline-edited  the UKI's command line changed on the medium: refused under Secure Boot; the
#                   same copy under UEFI without Secure Boot boots with the edit (so the edit was real)
#   content-b       the content layer's signature replaced by one of B: refused, layer named
#   content-unsigned  the signature removed: refused under Secure Boot
#   bios            the signed image still boots as a BIOS CD, and says nothing anchors it
#   release         a content release in the same work dir keeps the signed kernel image as it is
#                   (only the layer's root hash is signed again)
set -euo pipefail
romimg=$1 dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in openssl sbsign objcopy veritysetup; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (make deps)"; exit 77; }
done
[ -f /usr/lib/systemd/boot/efi/linuxx64.efi.stub ] || { echo "SKIP: systemd-boot-efi is not installed"; exit 77; }
[ -f /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] || { echo "SKIP: ovmf is not installed"; exit 77; }
rm -rf "$dir"
mkdir -p "$dir/site" "$dir/keys"
for k in a b; do
    openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=romimg e2e $k" \
        -keyout "$dir/keys/$k.key" -out "$dir/keys/$k.pem" 2>/dev/null
done
echo "<h1>romimg-secure-boot-test</h1>" > "$dir/site/index.html"
iso=$dir/signed.iso
build() {
    "$romimg" build apache --fast --log-console -o "$1" --work "$2" --content apache:/var/www/html="$dir/site" \
        --sign-key "$dir/keys/a.key" --sign-cert "$dir/keys/a.pem" --source-date-epoch 1700000000 > "$2.log" 2>&1 ||
        { cat "$2.log"; exit 1; }
}
build "$iso" "$dir/work"

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

port=$((20000 + ($$ + 7) % 20000))
# boot NAME ISO ARGS...: until a 200 from / ("served"), init's FATAL ("halted"), the firmware
# giving up ("refused"), or 180 s ("timeout"); console in $dir/NAME.console.
boot() {
    local name=$1 image=$2
    shift 2
    local console=$dir/$name.console
    "$romimg" boot "$image" "$@" --forward "$port:80" < /dev/null > "$console" 2>&1 &
    booted_pid=$!
    result=timeout
    for _ in $(seq 1 180); do
        sleep 1
        if grep -aq "romimg-init: FATAL" "$console"; then result=halted; break; fi
        if grep -aq "No bootable option or device was found" "$console"; then result=refused; break; fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$port/" || true)" = 200 ]; then result=served; break; fi
    done
}
stop() { pkill -P "$booted_pid" 2>/dev/null || true; kill "$booted_pid" 2>/dev/null || true; wait "$booted_pid" 2>/dev/null || true; }
remaster() {  # remaster IN OUT XORRISO-ARGS...: the same boot images, files changed
    local in=$1 out=$2
    shift 2
    xorriso -indev "$in" -outdev "$out" -boot_image any replay "$@" > "$out.log" 2>&1
}

"$romimg" verify "$iso" --secure-boot --sign-cert "$dir/keys/a.pem" --work "$dir/verify" > "$dir/verify-a.log" 2>&1 && v=0 || v=$?
check "verify-a: every check passes under Secure Boot" '[ "$v" = 0 ]'
check "verify-a: the content layer's signature was checked" 'grep -q "PASS  live/content/apache-1.sqfs is mounted through dm-verity .*got: verity, signature checked" "$dir/verify-a.log"'
check "verify-a: Secure Boot was on" 'grep -q "PASS  init reports the boot chain.s state .*got: Secure Boot is on" "$dir/verify-a.log"'

build "$dir/again.iso" "$dir/work2"
check "reproducible: the same unsigned kernel image" '[ "$(sha256sum < "$dir/work/sign/uki.efi")" = "$(sha256sum < "$dir/work2/sign/uki.efi")" ]'
check "reproducible: romimg diff finds nothing" '"$romimg" diff "$iso" "$dir/again.iso" | grep -q "images are identical"'
xorriso -osirrox on -indev "$iso" -extract /live/content/apache-1.sqfs.verity.p7s "$dir/a.p7s" > /dev/null 2>&1
xorriso -osirrox on -indev "$dir/again.iso" -extract /live/content/apache-1.sqfs.verity.p7s "$dir/a2.p7s" > /dev/null 2>&1
check "reproducible: the same content layer signature" 'cmp -s "$dir/a.p7s" "$dir/a2.p7s"'
differing=$(cmp -l "$iso" "$dir/again.iso" | wc -l || true)
check "reproducible: the ISOs differ in at most the signature's bytes ($differing)" '[ "$differing" -le 600 ]'

boot firmware-b "$iso" --secure-boot --sign-cert "$dir/keys/b.pem"
check "firmware-b: refused by the firmware" '[ "$result" = refused ] && grep -aq "Access Denied" "$dir/firmware-b.console"'
check "firmware-b: no kernel ran" '! grep -aq "Linux version" "$dir/firmware-b.console"'
stop

# The UKI's .cmdline lives in the EFI boot image (the last occurrence of the command line).
cp "$iso" "$dir/cmdline.iso"
at=$(grep -boa "panic=10 " "$dir/cmdline.iso" | tail -1 | cut -d: -f1)
printf 'panic=99 ' | dd of="$dir/cmdline.iso" bs=1 seek="$at" conv=notrunc status=none
boot cmdline-sb "$dir/cmdline.iso" --secure-boot --sign-cert "$dir/keys/a.pem"
check "cmdline-edited: refused under Secure Boot" '[ "$result" = refused ] && grep -aq "Access Denied" "$dir/cmdline-sb.console"'
stop
boot cmdline-nosb "$dir/cmdline.iso" --uefi
check "cmdline-edited: without Secure Boot the edit reaches the kernel" 'grep -aq "Kernel command line: .*panic=99" "$dir/cmdline-nosb.console"'
check "cmdline-edited: ... and init says nothing anchors it" 'grep -aq "Secure Boot is off: nothing anchors" "$dir/cmdline-nosb.console"'
stop

layer=live/content/apache-1.sqfs
xorriso -osirrox on -indev "$iso" -extract "/$layer.verity.params" "$dir/params" > /dev/null 2>&1
awk '$1 == "root_hash" { printf "%s", $2 }' "$dir/params" > "$dir/roothash"
openssl smime -sign -nocerts -noattr -binary -in "$dir/roothash" -inkey "$dir/keys/b.key" -signer "$dir/keys/b.pem" \
    -outform der -out "$dir/b.p7s"
remaster "$iso" "$dir/content-b.iso" -map "$dir/b.p7s" "/$layer.verity.p7s"
boot content-b "$dir/content-b.iso" --secure-boot --sign-cert "$dir/keys/a.pem"
check "content-b: refused, the layer named" '[ "$result" = halted ] && grep -aq "FATAL: content layer /run/medium/$layer for apache: load the verity table" "$dir/content-b.console"'
check "content-b: apache never started" '! grep -aq "started apache" "$dir/content-b.console"'
stop

remaster "$iso" "$dir/content-unsigned.iso" -rm "/$layer.verity.p7s"
boot content-unsigned "$dir/content-unsigned.iso" --secure-boot --sign-cert "$dir/keys/a.pem"
check "content-unsigned: refused under Secure Boot" '[ "$result" = halted ] && grep -aq "has no signature" "$dir/content-unsigned.console"'
stop

boot bios "$iso"
check "bios: the signed image boots as a BIOS CD" '[ "$result" = served ]'
check "bios: and says nothing anchors it" 'grep -aq "Secure Boot is off: nothing anchors" "$dir/bios.console"'
stop

sha_before=$(sha256sum < "$dir/work/sign/BOOTX64.EFI")
echo "<h1>romimg-secure-boot-release-2</h1>" > "$dir/site/index.html"
build "$dir/release2.iso" "$dir/work"
check "release: the signed kernel image is kept, not signed again" \
    '[ "$(sha256sum < "$dir/work/sign/BOOTX64.EFI")" = "$sha_before" ] && grep -q "kept as signed before" "$dir/work.log"'

echo "$fails failed"
[ "$fails" -eq 0 ]
