#!/usr/bin/env bash
# reproducible.sh ROMIMG FIRST_ISO TEMPLATES BUILD_DIR: the e2e appliance built a second time, from
# the same inputs in another work dir and with an empty base cache, by romimg installed from
# BUILD_DIR into a scratch prefix whose every file is then given a new mtime (what another
# checkout or install of the same commit looks like), must be the same bytes as the fixture's
# ISO, with SOURCE_DATE_EPOCH left to romimg (the newest input). The second build is `romimg build` with no arguments and a
# romimg.toml that says what build_iso.sh's flags say, so the config file is proven to build
# the same image. Neither work dir may appear anywhere in either image: not in the ISO's own
# files (/romimg/), not inside the compressed root filesystem, not in the initramfs.
# Then `romimg manifest` and `romimg diff` on the real images: identical ones exit 0, and a
# copy whose romlock policy was edited exits 3 and names the line.
set -euo pipefail
romimg=$1 first=$2 templates=$3 build_dir=$4
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
dir=$(cd "$(dirname "$first")" && pwd)
work1=$dir/work
work2=$dir/repro/a-second-work-dir
second=$dir/repro/romimg.iso
rm -rf "$dir/repro"; mkdir -p "$dir/repro"
# What build_iso.sh says with flags, as a config file; relative paths are the file's dir's.
cat > "$dir/repro/romimg.toml" <<TOML
services = ["apache", "tomcat", "rootwrite"]
log_console = true
output = "romimg.iso"
work = "a-second-work-dir"

[[content]]
service = "apache"
path = "/var/www/html"
source = "$dir/e2e-site"
TOML
# A private cache that shares only the kernel and the CDS archives: the second build traces,
# jails, links tomcat's runtime, runs it in its jail for its class list and packs every layer
# again instead of taking them from the first build's cache entries. JDK 17's -Xshare:dump is not
# deterministic (java/cds.h), so an archive is taken from the cache when the class list the
# second run wrote and the runtime are the same bytes as the first's: a list that differs misses
# it, and the ISOs differ.
real_cache=${ROMIMG_CACHE:-$HOME/.cache/romimg}
mkdir -p "$dir/repro/cache" "$real_cache/cds"
ln -s "$(realpath "$real_cache/kernel")" "$dir/repro/cache/kernel"
ln -s "$(realpath "$real_cache/cds")" "$dir/repro/cache/cds"
# The installed copy: its data and programs elsewhere, with mtimes of now.
DESTDIR="$dir/repro/inst" cmake --install "$build_dir" --prefix /usr >/dev/null
find "$dir/repro/inst" -exec touch -h {} +
installed=$dir/repro/inst/usr/bin/romimg
"$installed" --version -v | grep -q "^(installed in $dir/repro/inst/usr)" || { echo "FAIL: the installed copy does not run from its prefix" >&2; exit 1; }
(cd "$dir/repro" && env -u SOURCE_DATE_EPOCH ROMIMG_CACHE="$dir/repro/cache" ROMIMG_TEMPLATES="$templates" "$installed" build) \
  > "$dir/repro/build.log" 2>&1 || { tail -30 "$dir/repro/build.log" >&2; echo "FAIL: the installed romimg's build" >&2; exit 1; }
grep "SOURCE_DATE_EPOCH" "$dir/repro/build.log"
[ -f "$second" ] || { echo "FAIL: romimg build with romimg.toml did not write $second" >&2; exit 1; }
[ -d "$work2" ] || { echo "FAIL: romimg build did not use romimg.toml's work dir $work2" >&2; exit 1; }

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

# romimg manifest: the kernel, the policy, and apache's binary with its package.
m=$("$romimg" manifest "$second")
for want in "kernel   6.12" "init     hostname romimg" "  seal" "jail apache:" "apache2-bin" "/usr/sbin/apache2" "jail rootwrite:"; do
    grep -qF -- "$want" <<<"$m" || { echo "FAIL: romimg manifest does not show '$want'" >&2; fail=1; }
done
"$romimg" manifest --json "$second" | python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["jails"][0]["entries"], m.keys()' ||
    { echo "FAIL: romimg manifest --json" >&2; fail=1; }
# romimg diff: 0 for the same image; 3 and the policy line for a copy with one line more.
rc=0; "$romimg" diff "$first" "$second" >/dev/null || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: romimg diff of two identical images exited $rc" >&2; fail=1; }
{ echo "mount tmpfs /jail/apache/srv nosuid,nodev,noexec"; cat "$x/romimg/romlock.policy"; } > "$x/policy"
xorriso -indev "$second" -outdev "$x/edited.iso" -boot_image any keep \
    -map "$x/policy" /romimg/romlock.policy -commit >/dev/null 2>&1
rc=0; d=$("$romimg" diff "$second" "$x/edited.iso") || rc=$?
echo "$d"
[ "$rc" -eq 3 ] || { echo "FAIL: romimg diff of different images exited $rc, not 3" >&2; fail=1; }
grep -qF "  + mount tmpfs /jail/apache/srv nosuid,nodev,noexec" <<<"$d" ||
    { echo "FAIL: romimg diff does not name the added policy line" >&2; fail=1; }
rm -rf "$x" "$dir/repro/cache"
[ "$fail" -eq 0 ] || exit 1
echo PASS
