#!/usr/bin/env bash
# cache_glob.sh ROMIMG ROOTWRITE DIR: the base-layer cache notices a new file that a template's
# include glob now matches. Build (miss), rebuild (hit: the control), add a matching file,
# rebuild: a miss naming the glob, and the new file is in the image's jail. Root; exit 77
# otherwise. The kernel comes from the shared cache (~/.cache/romimg/kernel; built there if absent).
set -u
romimg=$(realpath "$1") rootwrite=$(realpath "$2") dir=$(realpath -m "$3")
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
t=$dir/cache-glob
rm -rf "$t" && mkdir -p "$t/templates" "$t/inc" "$t/cache" "$t/out" || exit 1
trap 'rm -rf "$t"' EXIT
mkdir -p "$HOME/.cache/romimg/kernel" && ln -s "$HOME/.cache/romimg/kernel" "$t/cache/kernel"
echo a > "$t/inc/a.conf"
. "$(dirname "$0")/test_service.sh"
test_template "$t/templates/globtest.toml" "hostile.cache-glob: a static service that would find its config by listing" "$rootwrite" "$t/inc/*.conf"

fail=0
build() {
    ROMIMG_TEMPLATES=$t/templates ROMIMG_CACHE=$t/cache "$romimg" build globtest --fast -o "$t/out/romimg.iso" \
        --work "$t/work" > "$t/build$1.log" 2>&1 || { echo "FAIL: build $1 failed:" >&2; cat "$t/build$1.log" >&2; exit 1; }
    grep "base layer" "$t/build$1.log"
}
in_image() { "$romimg" manifest "$t/out/romimg.iso" --json | grep -q "\"$t/inc/$1\""; }

build 1
grep -q "base layer.*not cached" "$t/build1.log" || { echo "FAIL: the first build was not a miss" >&2; fail=1; }
in_image a.conf || { echo "FAIL: a.conf is not in the image" >&2; fail=1; }
build 2
grep -q "base layer.*: cached" "$t/build2.log" || { echo "FAIL: an unchanged rebuild missed the cache (the control)" >&2; fail=1; }
echo b > "$t/inc/b.conf"
echo "not matched" > "$t/inc/b.txt"
build 3
grep -qF "not cached (1 host file(s) or include glob(s) changed since, e.g. $t/inc/*.conf)" "$t/build3.log" ||
    { echo "FAIL: a new file matching the include glob did not invalidate the base layer" >&2; fail=1; }
in_image b.conf || { echo "FAIL: b.conf is not in the rebuilt image" >&2; fail=1; }
in_image b.txt && { echo "FAIL: b.txt (not matched) is in the image" >&2; fail=1; }
[ $fail -eq 0 ] && echo PASS
exit $fail
