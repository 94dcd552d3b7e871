#!/usr/bin/env bash
# content.sh ROMIMG ROOTWRITE DIR: hostile and careless content releases through `romimg build`.
# Refused before any other work, with the entry and the fix named, leaving no staging tree, no
# cached layer, no output and the source untouched: a 0600 file, a 0700 directory, a tar entry
# 0600, a copy of /etc/shadow, a PEM private key, a source holding only directories (also
# behind a symlink), a source that contains the work directory. Then built: a source that is a
# symlink to a directory (`current -> release-42`) packs its files, and
# --content-allow-private ships the 0600 file with its mode. Root; exit 77 otherwise. The kernel
# comes from the shared cache (~/.cache/romimg/kernel; built there if absent).
set -u
romimg=$(realpath "$1") rootwrite=$(realpath "$2") dir=$(realpath -m "$3")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
t=$dir/content
rm -rf "$t" && mkdir -p "$t/templates" "$t/cache" "$t/out" || exit 1
trap 'rm -rf "$t"' EXIT
mkdir -p "$HOME/.cache/romimg/kernel" && ln -s "$HOME/.cache/romimg/kernel" "$t/cache/kernel"
. "$(dirname "$0")/test_service.sh"
test_template "$t/templates/ctest.toml" "hostile.content: a static service with a content layer" "$rootwrite" ""

fail=0
# release NAME: a good release directory.
release() { mkdir -p "$t/$1/img" && echo "<h1>$1</h1>" > "$t/$1/index.html" && echo png > "$t/$1/img/a.png"; }
build() {  # build LOG SOURCE [ARGS...]
    local log=$1 src=$2; shift 2
    ROMIMG_TEMPLATES=$t/templates ROMIMG_CACHE=$t/cache "$romimg" build ctest --fast -o "$t/out/romimg.iso" \
        --work "${WORK:-$t/work}" --content "ctest:/srv/content=$src" "$@" > "$t/$log.log" 2>&1
}
# refused NAME SOURCE MESSAGE [ARGS...]: exit 2 with MESSAGE, and nothing written.
refused() {
    local name=$1 src=$2 msg=$3; shift 3
    local before; before=$(ls -lR --time-style=full-iso "$src" 2> /dev/null | md5sum)
    build "$name" "$src" "$@"; local st=$?
    [ "$st" -eq 2 ] || { echo "FAIL($name): exit $st, wanted 2" >&2; fail=1; }
    grep -qF -- "$msg" "$t/$name.log" || { echo "FAIL($name): no '$msg' in:" >&2; cat "$t/$name.log" >&2; fail=1; }
    [ -z "$(ls -A "$t/out")" ] || { echo "FAIL($name): output written" >&2; fail=1; }
    [ -z "$(ls -A "$t/cache/content" 2> /dev/null)" ] || { echo "FAIL($name): a layer was cached" >&2; fail=1; }
    [ -z "$(ls -A "${WORK:-$t/work}/content" 2> /dev/null)" ] || { echo "FAIL($name): staging left in the work dir" >&2; fail=1; }
    [ "$(ls -lR --time-style=full-iso "$src" 2> /dev/null | md5sum)" = "$before" ] || { echo "FAIL($name): SOURCE changed" >&2; fail=1; }
    echo "$name: $(grep 'romimg: error' "$t/$name.log")"
}

release private && echo "password=x" > "$t/private/db.conf" && chmod 600 "$t/private/db.conf"
refused private-file "$t/private" "db.conf is not world-readable in SOURCE (mode 0600), and the layer would make it readable to the service and to anyone who reads the image (chmod o+r it if it is public, remove it, or pass --content-allow-private"
release privdir && mkdir -p "$t/privdir/internal" && chmod 700 "$t/privdir/internal"
refused private-dir "$t/privdir" "internal is not world-readable in SOURCE (mode 0700)"
tar -C "$t/private" -czf "$t/private.tar.gz" .
refused private-tar "$t/private.tar.gz" "db.conf is not world-readable in SOURCE (mode 0600)"
release shadow && cp /etc/shadow "$t/shadow/shadow" && chmod 644 "$t/shadow/shadow"
refused shadow "$t/shadow" "shadow is a host secret (the jails' rule /etc/shadow): it never goes into an image (remove it from SOURCE)"
release key && mkdir -p "$t/key/tls" && printf -- '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n' > "$t/key/tls/site.key"
refused private-key "$t/key" "tls/site.key is a private key, which the layer would make readable to the service and to anyone who reads the image (remove it from SOURCE, or pass --content-allow-private"
mkdir -p "$t/empty/a/b" && ln -s empty "$t/empty-link"
refused empty "$t/empty" "holds no files or symlinks: the layer would be empty"
refused empty-link "$t/empty-link" "holds no files or symlinks: the layer would be empty"
release outer
WORK=$t/outer/work refused work-inside "$t/outer" "contains romimg's work directory $t/outer/work, so it would copy itself"
[ ! -e "$t/outer/work" ] || { echo "FAIL(work-inside): the work dir was created inside SOURCE" >&2; fail=1; }

# Built: a symlink source packs what it points at.
release release-42 && ln -s release-42 "$t/current"
if build symlink "$t/current"; then
    layer=$(ls "$t"/cache/content/*.sqfs)
    unsquashfs -l "$layer" | grep -q "/index.html$" || { echo "FAIL(symlink): index.html not in the layer" >&2; unsquashfs -l "$layer" >&2; fail=1; }
    echo "symlink: $(grep 'content ctest' "$t/symlink.log")"
else
    echo "FAIL(symlink): the build failed:" >&2; cat "$t/symlink.log" >&2; fail=1
fi
# Built with --content-allow-private: the 0600 file keeps its mode (root-owned) in the layer.
rm -f "$t"/cache/content/*.sqfs
if build allowed "$t/private" --content-allow-private; then
    unsquashfs -lls "$(ls "$t"/cache/content/*.sqfs)" | grep "/db.conf$" | grep -q "^-rw------- root/root" ||
        { echo "FAIL(allowed): db.conf is not -rw------- root/root in the layer" >&2; fail=1; }
else
    echo "FAIL(allowed): the build failed:" >&2; cat "$t/allowed.log" >&2; fail=1
fi
[ $fail -eq 0 ] && echo PASS
exit $fail
