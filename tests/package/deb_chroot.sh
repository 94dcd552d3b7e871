#!/usr/bin/env bash
# package.chroot (issue 19): the packages as a stranger gets them. A fresh Debian 12 chroot
# (mmdebstrap, the host's apt sources), `apt-get install ./romimg_*.deb ./romimg-kernel-*.deb`
# there (their Depends come from the mirror; what the host already downloaded is read through an
# overlay, never changed), then, from an empty directory inside: romimg --version, romimg
# templates, and `romimg kernel --key` for both arches, which must find the packaged kernels
# (their keys are the build tree's: the same inputs, installed or not). Root only (77 otherwise).
#   deb_chroot.sh DEB_DIR BUILD_TREE_ROMIMG
set -uo pipefail
debdir=$1 romimg=$2
[ "$(id -u)" = 0 ] || { echo "skip: needs root (mmdebstrap --mode=root, chroot)"; exit 77; }
debs=$(ls "$debdir"/romimg_*_amd64.deb "$debdir"/romimg-kernel-amd64_*_all.deb "$debdir"/romimg-kernel-i386_*_all.deb 2>/dev/null)
[ "$(wc -l <<<"$debs")" = 3 ] || { echo "FAIL: romimg, romimg-kernel-amd64 and romimg-kernel-i386 are not all in $debdir (package.deb makes them)"; exit 1; }
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
tmp=$(mktemp -d /tmp/romimg-pkg-XXXXXX)
cleanup() {
  # Whatever a failed hook left mounted under $tmp goes first; never rm across a mount.
  grep -o " $tmp[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/up" "$tmp/wk" "$tmp/tmpdir" "$tmp/debs"
cp $debs "$tmp/debs/"
for arch in x86_64 i386; do
  line=$("$romimg" kernel --key --arch "$arch") || { echo "FAIL: romimg kernel --key --arch $arch"; exit 1; }
  echo "$arch ${line%% *}" >> "$tmp/keys"
done
cat > "$tmp/inside.sh" <<'INSIDE'
set -eu
mkdir /empty && cd /empty
romimg --version -v
romimg templates
mkdir /cache
for arch in x86_64 i386; do romimg kernel --key --arch $arch --cache-dir /cache; done
INSIDE
start=$(date +%s)
TMPDIR="$tmp/tmpdir" mmdebstrap --mode=root --variant=apt --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="mount -t overlay romimg-pkg-apt -o lowerdir=/var/cache/apt/archives,upperdir=$tmp/up,workdir=$tmp/wk \"\$1/var/cache/apt/archives\"" \
  --customize-hook="copy-in $tmp/debs $tmp/inside.sh /tmp" \
  --customize-hook="chroot \"\$1\" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/debs/*.deb' > $tmp/apt.log 2>&1 || { tail -30 $tmp/apt.log; exit 1; }" \
  --customize-hook="chroot \"\$1\" sh /tmp/inside.sh > $tmp/out.txt 2>&1; echo \$? > $tmp/rc" \
  --customize-hook='umount "$1/var/cache/apt/archives"' \
  bookworm /dev/null "$sources" > "$tmp/mmdebstrap.log" 2>&1
mm=$?
echo "mmdebstrap: exit $mm after $(( $(date +%s) - start )) s; apt-get installed $(grep -c '^Setting up' "$tmp/apt.log" 2>/dev/null) packages"
[ $mm -eq 0 ] || { tail -30 "$tmp/mmdebstrap.log"; echo "FAIL: mmdebstrap"; exit 1; }
sed 's/^/  | /' "$tmp/out.txt"
fail=0
[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] || { echo "FAIL: a command inside the chroot failed"; fail=1; }
want_version=$("$romimg" --version)
grep -qxF "$want_version" "$tmp/out.txt" || { echo "FAIL: the installed romimg is not '$want_version'"; fail=1; }
grep -q "^(installed in /usr)" "$tmp/out.txt" || { echo "FAIL: the installed romimg does not find its data in /usr"; fail=1; }
for t in apache tomcat lighttpd nginx mariadb postgresql; do
  grep -qE "^$t +shipped +[^ (]" "$tmp/out.txt" || { echo "FAIL: template $t is not listed as shipped and valid"; fail=1; }
done
grep -q "/usr/share/romimg/jail-templates/apache.toml" "$tmp/out.txt" || { echo "FAIL: templates do not come from /usr/share/romimg"; fail=1; }
while read -r arch key; do
  grep -q "^$key packaged /usr/lib/romimg/kernel/$key/bzImage" "$tmp/out.txt" \
    || { echo "FAIL: installed, romimg does not find the packaged $arch kernel under the build tree's key ($key)"; fail=1; }
done < "$tmp/keys"
[ $fail -eq 0 ] && echo "ok: installed in a fresh Debian 12 chroot, romimg runs from /usr and takes the packaged kernels"
exit $fail
