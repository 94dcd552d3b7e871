#!/usr/bin/env bash
# Content layers, end to end (label e2e): an apache + rootwrite image with a directory layer for
# apache and a tar.gz layer for rootwrite, built three times into a private base cache:
#   1. cold: the base layer is traced and packed;
#   2. nothing changed: base cached, the ISO is kept as it is (same bytes);
#   3. content only: base cached, root.sqfs unchanged (image.json), the apache layer re-packed;
# bad --content input fails before any work and leaves the ISO alone; then the third image is
# booted: apache serves the new release through a forward, rootwrite reads its layer, and writes
# into the layer are refused.
set -euo pipefail
romimg=$1 boot=$2 out=$3 templates=$4
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
dir=$(dirname "$out")/content-test
rm -rf "$dir" "$out"
mkdir -p "$dir/site/img" "$dir/tar" "$dir/cache"
# A private cache for the base and content layers; the kernel is the user's cached one.
real_cache=${ROMIMG_CACHE:-$HOME/.cache/romimg}
mkdir -p "$real_cache/kernel"
ln -s "$(realpath "$real_cache/kernel")" "$dir/cache/kernel"
export ROMIMG_CACHE=$dir/cache ROMIMG_TEMPLATES=$templates

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
info() { xorriso -osirrox on -indev "$out" -extract /romimg/image.json "$dir/image.json" >/dev/null 2>&1; cat "$dir/image.json"; }
sha_of() { python3 -c 'import json,sys; print(next(l["sha256"] for l in json.load(open(sys.argv[1]))["layers"] if l["iso_path"]==sys.argv[2]))' "$dir/image.json" "$1"; }

echo "<h1>romimg-content-release-1</h1>" > "$dir/site/index.html"
echo "icon" > "$dir/site/img/icon.txt"
echo "romimg-tar-layer-$$" > "$dir/tar/index.html"
tar -czf "$dir/rootwrite.tgz" -C "$dir/tar" .
build() {
    "$romimg" build apache rootwrite --fast --log-console -o "$out" --work "$dir/work" \
        --content apache:/var/www/html="$dir/site" --content rootwrite:/srv/content="$dir/rootwrite.tgz" 2>&1 | tee "$dir/build.log"
}

build
check "cold build: the base layer is traced and packed" 'grep -q "base layer: not cached" "$dir/build.log"'
info >/dev/null
root1=$(sha_of live/root.sqfs) apache1=$(sha_of live/content/apache-1.sqfs)
iso1=$(sha256sum "$out" | cut -d" " -f1)
check "image.json lists both content layers with their mount points" \
    'grep -q "/jail/apache/var/www/html" "$dir/image.json" && grep -q "/jail/rootwrite/srv/content" "$dir/image.json"'

build
check "no-change rebuild: base layer cached" 'grep -q "base layer: cached" "$dir/build.log"'
check "no-change rebuild: the ISO is kept" 'grep -q "iso: unchanged" "$dir/build.log" && [ "$(sha256sum "$out" | cut -d" " -f1)" = "$iso1" ]'

echo "<h1>romimg-content-release-2</h1>" > "$dir/site/index.html"
build
info >/dev/null
check "content-only rebuild: base layer cached" 'grep -q "base layer: cached" "$dir/build.log"'
check "content-only rebuild: no trace ran" '! grep -q "==> trace " "$dir/build.log"'
check "content-only rebuild: apache's layer re-packed, rootwrite's from the cache" \
    'grep -q "content apache:/var/www/html: .* packed" "$dir/build.log" && grep -q "content rootwrite:/srv/content: .* cached" "$dir/build.log"'
check "content-only rebuild: root.sqfs unchanged" '[ "$(sha_of live/root.sqfs)" = "$root1" ]'
check "content-only rebuild: the apache layer changed" '[ "$(sha_of live/content/apache-1.sqfs)" != "$apache1" ]'
# A build whose every layer is cached, into a work dir that does not exist yet (no content, so
# nothing else makes the dir first): built, and the same bytes as from a used work dir.
for w in used-work fresh-work; do
    "$romimg" build apache --fast -o "$dir/$w.iso" --work "$dir/$w" >"$dir/$w.log" 2>&1 || true
done
check "everything cached, into a new work dir: built, the same bytes" \
    'grep -q "base layer: cached" "$dir/fresh-work.log" && [ -f "$dir/fresh-work.iso" ] &&
     [ "$(sha256sum <"$dir/fresh-work.iso")" = "$(sha256sum <"$dir/used-work.iso")" ] || { tail -3 "$dir/fresh-work.log"; false; }'
rm -rf "$dir"/used-work* "$dir"/fresh-work*

# Bad input: refused before any work, named, and the ISO is left as it was.
iso3=$(sha256sum "$out" | cut -d" " -f1)
printf 'x' > "$dir/evil-file"
tar -czf "$dir/evil.tgz" -C / --absolute-names "$dir/evil-file" 2>/dev/null
set +e
"$romimg" build apache --fast -o "$out" --work "$dir/work" --content apache:/usr/sbin="$dir/site" >"$dir/bad1.log" 2>&1; st1=$?
"$romimg" build apache --fast -o "$out" --work "$dir/work" --content apache:/var/www/html="$dir/evil.tgz" >"$dir/bad2.log" 2>&1; st2=$?
set -e
check "PATH over the program: exit 2, named" '[ $st1 = 2 ] && grep -q "romimg: error: --content apache:/usr/sbin=.*would hide the service.s program" "$dir/bad1.log"'
check "archive with an absolute path: exit 2, named" '[ $st2 = 2 ] && grep -q "romimg: error: --content .*has an absolute path" "$dir/bad2.log"'
check "bad input left the ISO alone" '[ "$(sha256sum "$out" | cut -d" " -f1)" = "$iso3" ]'
check "bad input left no staging tree" '[ -z "$(ls -A "$dir/work/content" 2>/dev/null)" ]'

E2E_SITE_MARKER=romimg-content-release-2 E2E_TAR_MARKER="romimg-tar-layer-$$" "$boot" "$out" content poweroff 512 || fails=$((fails + 1))
[ $fails = 0 ] && echo "all checks passed" || { echo "$fails checks failed"; exit 1; }
