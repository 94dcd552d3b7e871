#!/bin/sh
# bad_config.sh ROMIMG KERNEL_CONFIG_DIR: `romimg kernel` with a fragment asking for an option
# Kconfig cannot set must fail with "romimg: error:" naming the option and its file:line,
# publish nothing in the cache, and keep the build log where the message says.
set -u
romimg=$1 src=$2
tmp=$(mktemp -d /var/tmp/romimg-badcfg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cfg"
cp -r "$src/romlock" "$src/patches" "$tmp/cfg/"
# the layout romimg kernel reads: common.config plus the arch's fragment
: > "$tmp/cfg/common.config"
printf 'CONFIG_64BIT=y\nCONFIG_ROMIMG_NO_SUCH_OPTION=y\n' > "$tmp/cfg/x86_64.config"

"$romimg" kernel --jobs 1 --cache-dir "$tmp/cache" --config-dir "$tmp/cfg" \
    > "$tmp/out" 2> "$tmp/err"
status=$?
cat "$tmp/err"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ $status -eq 1 ] || fail "exit status $status, expected 1"
grep -q "^romimg: error:" "$tmp/err" || fail "no 'romimg: error:' line"
grep -q "x86_64.config:2: asked for CONFIG_ROMIMG_NO_SUCH_OPTION=y" "$tmp/err" ||
    fail "the error does not name the option with its file:line"
left=$(ls -A "$tmp/cache/kernel" | grep -v '^logs$')
[ -z "$left" ] || fail "cache has entries after a failed build: $left"
ls "$tmp/cache/kernel/logs/"*.failed.log >/dev/null 2>&1 || fail "no failed-build log kept"
grep -q "failed.log" "$tmp/err" || fail "the error output does not point to the log"
echo "PASS: failed build named the option, left no cache entry, kept the log"
