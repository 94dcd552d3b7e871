#!/usr/bin/env bash
# reproducible.sh ROMIMG FIRST_ISO TEMPLATES: the e2e appliance built a second time, from the same
# inputs in another work dir (longer name, other mtimes on nothing but the work dir), must be
# the same bytes as the fixture's ISO, with SOURCE_DATE_EPOCH left to romimg (the newest input).
# Neither work dir may appear anywhere in either image: not in the ISO's own files (/romimg/),
# not inside the compressed root filesystem, not in the initramfs.
set -euo pipefail
romimg=$1 first=$2 templates=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
dir=$(cd "$(dirname "$first")" && pwd)
work1=$dir/work
work2=$dir/repro/a-second-work-dir
second=$dir/repro/romimg.iso
rm -rf "$dir/repro"; mkdir -p "$dir/repro"
# The same command as build_iso.sh, from another cwd, with SOURCE_DATE_EPOCH unset.
(cd "$dir/repro" && env -u SOURCE_DATE_EPOCH ROMIMG_TEMPLATES="$templates" "$romimg" -q build --no-config \
    apache tomcat rootwrite --log-console -o "$second" --work "$work2")

fail=0
a=$(sha256sum < "$first" | cut -d' ' -f1); b=$(sha256sum < "$second" | cut -d' ' -f1)
echo "first  $a $first"
echo "second $b $second"
if [ "$a" != "$b" ]; then
    echo "FAIL: two builds of the same inputs differ; what romimg diff sees:" >&2
    "$romimg" diff "$first" "$second" >&2 || true
    fail=1
fi

# Unpack what is compressed: the root filesystem and the initramfs.
x=$dir/repro/unpacked
mkdir -p "$x"
xorriso -osirrox on -indev "$second" -extract /live/root.sqfs "$x/root.sqfs" -extract /romimg "$x/romimg" \
    -extract /boot/initrd.img "$x/initrd.gz" >/dev/null 2>&1
unsquashfs -q -no-progress -d "$x/root" "$x/root.sqfs" >/dev/null
[ -d "$x/romimg/jails" ] || { echo "FAIL: /romimg/jails missing from the image" >&2; exit 1; }
for w in "$work1" "$work2" "$dir/repro"; do
    for iso in "$first" "$second"; do
        if grep -aqF "$w" "$iso"; then echo "FAIL: the work dir $w is in $iso" >&2; fail=1; fi
    done
    if found=$(grep -rlF "$w" "$x/root" "$x/romimg" 2>/dev/null | head -5) && [ -n "$found" ]; then
        echo "FAIL: the work dir $w is in the image's files:" >&2; echo "$found" >&2; fail=1
    fi
    if zcat "$x/initrd.gz" | grep -aqF "$w"; then
        echo "FAIL: the work dir $w is in the initramfs" >&2; fail=1
    fi
done
# The build host's name in what romimg itself writes (the jails carry the host's own /etc
# files, which may name it, so only /romimg/ and the appliance's config are checked).
h=$(hostname)
if [ ${#h} -ge 4 ] && grep -rqwF "$h" "$x/romimg" "$x/root/etc/romimg"; then
    echo "FAIL: the host name '$h' is in the image's description or appliance.conf" >&2; fail=1
fi
rm -rf "$x"
[ "$fail" -eq 0 ] || exit 1
echo PASS
