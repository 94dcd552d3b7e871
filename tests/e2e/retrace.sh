#!/usr/bin/env bash
# --retrace (label e2e, no boot): a test-only service runs the programs its content names. The
# content names /usr/bin/sha1sum, which the service never runs on the host (no content there):
# a plain build's jail lacks it; --retrace traces with the content in place and the jail gets it,
# and a later build without --retrace keeps that jail (from the base cache).
set -euo pipefail
romimg=$1 work=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -rf "$work"
mkdir -p "$work/templates" "$work/app" "$work/cache"
real_cache=${ROMIMG_CACHE:-$HOME/.cache/romimg}
mkdir -p "$real_cache/kernel"
ln -s "$(realpath "$real_cache/kernel")" "$work/cache/kernel"
export ROMIMG_CACHE=$work/cache ROMIMG_TEMPLATES=$work/templates
cat > "$work/templates/contentreader.toml" <<'TOML'
description = "test: runs the programs its content names"
[service]
command = ["/bin/sh", "-c", "for p in $(cat /srv/app/programs); do $p --version; done; exit 0"]
user = "nobody"
group = "nogroup"
TOML
echo /usr/bin/sha1sum > "$work/app/programs"
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
build() { "$romimg" build contentreader --fast -o "$work/out.iso" --work "$work/w" --content contentreader:/srv/app="$work/app" "$@" | tee "$work/build.log"; }
in_jail() { grep -q "/usr/bin/sha1sum" "$(sed -n 's/^manifest: //p' "$work/build.log" | sed 's/json$/txt/')"; }

build
check "without --retrace the jail lacks what only the content asks for" '! in_jail'
build --retrace
check "--retrace traced again" 'grep -q "trace contentreader" "$work/build.log"'
check "--retrace: the program the content names is in the jail" 'in_jail'
echo "/usr/bin/sha1sum" >> "$work/app/programs"
build
check "a later content-only build reuses the re-traced jail" 'grep -q "base layer: cached" "$work/build.log" && in_jail'
[ $fails = 0 ] && echo "all checks passed" || { echo "$fails checks failed"; exit 1; }
