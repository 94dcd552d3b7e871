#!/usr/bin/env bash
# hostile.cache-full (issue 19): a cache on a full disk. `romimg kernel` into a 4 MB tmpfs must
# fail with a clear error naming the full disk and the fix, leave no half-written entry (no
# kernel/<key>, no .build-* tree), and `romimg cache` must still read what is there.
romimg=$1
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: mounting a tmpfs needs root"; exit 77; }
mkdir -p "$tmp/full"
mount -t tmpfs -o size=4m romimg-test-full "$tmp/full" || { echo "FAIL: cannot mount a tmpfs"; exit 1; }
trap 'umount "$tmp/full" 2>/dev/null; rm -rf "$tmp"' EXIT
expect kernel-full-disk 1 "romimg: error: the kernel cache $tmp/full/kernel is on a full disk \(No space left on device\).*romimg cache prune.*Nothing was added to the cache" -- \
  "$romimg" kernel --cache-dir "$tmp/full"
check no-entry test -z "$(find "$tmp/full/kernel" -mindepth 1 -maxdepth 1 ! -name logs)"
expect cache-lists-full 0 "cache $tmp/full: .* in 0 entries" -- "$romimg" cache --cache-dir "$tmp/full"
# And prune on a cache a build holds is refused, removing nothing.
mkdir -p "$tmp/c/content" && echo x > "$tmp/c/content/old.sqfs" && touch -d '2020-01-01' "$tmp/c/content/old.sqfs"
flock --no-fork -s "$tmp/c/.lock" sleep 30 & holder=$!
sleep 0.5
expect prune-while-building 1 "romimg: error: a romimg build is using the cache $tmp/c: prune it when the build has finished" -- \
  "$romimg" cache prune --older-than 1 --cache-dir "$tmp/c"
check prune-removed-nothing test -f "$tmp/c/content/old.sqfs"
kill $holder; wait $holder 2>/dev/null
expect prune-old 0 "remove content .* old.sqfs \(last used 2020-01-01.*freed 1 entries" -- "$romimg" cache prune --older-than 1 --cache-dir "$tmp/c"
check prune-removed-old test ! -e "$tmp/c/content/old.sqfs"
expect cache-dir-dangerous 2 "romimg: error: the cache /etc \(--cache-dir\)" -- "$romimg" cache --cache-dir /etc
exit $fail
