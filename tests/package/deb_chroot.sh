#!/usr/bin/env bash
# package.chroot (issue 19): the package as a stranger gets it. A fresh Debian 12 chroot
# (mmdebstrap, the host's apt sources), `apt-get install ./romimg_*.deb` there (its Depends come
# from the mirror; what the host already downloaded is read through an overlay, never changed),
# then, from an empty directory inside: romimg --version, romimg templates, and `romimg kernel
# --key` for both arches, which must find the kernels this run's build tree cached (the same
# inputs give the same key, installed or not). Root only (77 otherwise).
#   deb_chroot.sh DEB_DIR BUILD_TREE_ROMIMG
set -uo pipefail
debdir=$1 romimg=$2
[ "$(id -u)" = 0 ] || { echo "skip: needs root (mmdebstrap --mode=root, chroot)"; exit 77; }
deb=$(ls "$debdir"/romimg_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "FAIL: no package in $debdir (package.deb makes it)"; exit 1; }
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
tmp=$(mktemp -d /tmp/romimg-pkg-XXXXXX)
cleanup() {
  # Whatever a failed hook left mounted under $tmp goes first; never rm across a mount.
  grep -o " $tmp[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/up" "$tmp/wk" "$tmp/tmpdir" "$tmp/cache/kernel"
for arch in x86_64 i386; do
  line=$("$romimg" kernel --key --arch "$arch") || { echo "FAIL: romimg kernel --key --arch $arch"; exit 1; }
  read -r key state path <<<"$line"
  [ "$state" = cached ] || { echo "FAIL: the build tree has no cached $arch kernel ($line): qemu-kernel.build makes it"; exit 1; }
  cp -r "$(dirname "$path")" "$tmp/cache/kernel/$key"
  echo "$arch $key" >> "$tmp/keys"
done
cat > "$tmp/inside.sh" <<'INSIDE'
set -eu
mkdir /empty && cd /empty
romimg --version -v
romimg templates
for arch in x86_64 i386; do romimg kernel --key --arch $arch --cache-dir /cache; done
INSIDE
start=$(date +%s)
TMPDIR="$tmp/tmpdir" mmdebstrap --mode=root --variant=apt --skip=essential/unlink \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="mount -t overlay romimg-pkg-apt -o lowerdir=/var/cache/apt/archives,upperdir=$tmp/up,workdir=$tmp/wk \"\$1/var/cache/apt/archives\"" \
  --customize-hook="copy-in $deb $tmp/inside.sh /tmp" \
  --customize-hook="copy-in $tmp/cache /" \
  --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/$(basename "$deb") > $tmp/apt.log 2>&1 || { tail -30 $tmp/apt.log; exit 1; }" \
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
for t in apache tomcat lighttpd; do
  grep -qE "^$t +shipped +[^ (]" "$tmp/out.txt" || { echo "FAIL: template $t is not listed as shipped and valid"; fail=1; }
done
grep -q "/usr/share/romimg/jail-templates/apache.toml" "$tmp/out.txt" || { echo "FAIL: templates do not come from /usr/share/romimg"; fail=1; }
while read -r arch key; do
  grep -q "^$key cached /cache/kernel/$key/bzImage" "$tmp/out.txt" \
    || { echo "FAIL: installed, the $arch kernel's key is not the build tree's ($key)"; fail=1; }
done < "$tmp/keys"
[ $fail -eq 0 ] && echo "ok: installed in a fresh Debian 12 chroot, romimg runs from /usr and its kernel keys match the build tree's"
exit $fail
