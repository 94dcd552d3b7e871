#!/usr/bin/env bash
# package.deb (issue 19): `make deb`'s script builds romimg's Debian packages (romimg and the
# prebuilt kernels romimg-kernel-amd64 and -i386) from a clean copy of the tree, into OUT;
# lintian must report no error (its warnings are printed, not fatal).
#   deb_build.sh SOURCE_DIR OUT
set -uo pipefail
src=$1 out=$2
for tool in dpkg-buildpackage lintian; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing: run \`make deps\`"; exit 1; }
done
rm -rf "$out"
"$src/tools/make-deb" "$out" || { echo "FAIL: tools/make-deb"; exit 1; }
deb=$(ls "$out"/romimg_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "FAIL: no romimg_*_amd64.deb in $out"; ls -l "$out"; exit 1; }
echo "built $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
fail=0
# The files a user relies on are where romimg looks for them.
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/bin/romimg ./usr/share/romimg/VERSION ./usr/share/romimg/jail-templates/apache.toml \
         ./usr/share/romimg/kernel-config/common.config ./usr/lib/romimg/romimg-init ./usr/lib/romimg/romimg-init-i386 \
         ./usr/lib/romimg/romimg-selftest ./usr/lib/romimg/romimg-selftest-i386; do
  grep -qx -- "$f" <<<"$contents" || { echo "FAIL: the package has no $f"; fail=1; }
done
# No path of the checkout it was built in.
tmpx=$(mktemp -d /tmp/romimg-debx-XXXXXX); trap 'rm -rf "$tmpx"' EXIT
dpkg-deb -x "$deb" "$tmpx"
if grep -rlF -- "$src" "$tmpx" >/dev/null; then echo "FAIL: the package names the checkout $src: $(grep -rlF -- "$src" "$tmpx")"; fail=1; fi
for arch in amd64 i386; do
  k=$(ls "$out"/romimg-kernel-${arch}_*_all.deb 2>/dev/null | head -1)
  [ -n "$k" ] || { echo "FAIL: no romimg-kernel-$arch package"; fail=1; continue; }
  kc=$(dpkg-deb --contents "$k")  # (not piped into grep -q: pipefail would see dpkg-deb's SIGPIPE)
  grep -q "/usr/lib/romimg/kernel/[0-9a-f]\{64\}/bzImage$" <<<"$kc" \
    || { echo "FAIL: romimg-kernel-$arch holds no usr/lib/romimg/kernel/KEY/bzImage"; fail=1; }
done
# (its scratch files in a dir of ours: lintian leaves mldbm-elf-* files in $TMPDIR)
TMPDIR=$tmpx lintian --tag-display-limit 0 "$out"/*.changes > "$out/lintian.txt" 2>&1
echo "lintian: $(grep -c '^E:' "$out/lintian.txt") errors, $(grep -c '^W:' "$out/lintian.txt") warnings"
sed 's/^/  /' "$out/lintian.txt"
grep -q '^E:' "$out/lintian.txt" && { echo "FAIL: lintian reports errors"; fail=1; }
exit $fail
