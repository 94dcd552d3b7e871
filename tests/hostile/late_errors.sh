#!/usr/bin/env bash
# Late, unclear or wrong errors (issue 13, class 7): every one of these is refused before the
# first expensive step (no trace, no mksquashfs, no QEMU), with an error that names the problem
# and the fix, and leaves nothing behind (no work dir, no ISO, no TMPDIR).
romimg=$1
. "$(dirname "$0")/lib.sh"
cd "$tmp"
B=("$romimg" build --no-config apache --fast --work "$tmp/work")

expect output-directory 2 "romimg: error: -o $tmp/sentinel is a directory: give a file name \(like $tmp/sentinel/romimg.iso\)" -- \
  "${B[@]}" -o "$tmp/sentinel"
expect output-proc 2 "romimg: error: -o /proc/romimg.iso is inside /proc: give a file on a real filesystem" -- "${B[@]}" -o /proc/romimg.iso
expect output-under-file 2 "romimg: error: -o $tmp/sentinel/data/keep/x.iso: $tmp/sentinel/data/keep is not a directory" -- \
  "${B[@]}" -o "$tmp/sentinel/data/keep/x.iso"
expect duplicate-service 2 "romimg: error: service apache is named twice: each service is built once, name it once" -- \
  "$romimg" build --no-config apache tomcat apache --work "$tmp/work" -o "$tmp/out.iso"
expect epoch-env 2 "romimg: error: SOURCE_DATE_EPOCH must be seconds since 1970, at most 4294967295, got '99999999999'" -- \
  env SOURCE_DATE_EPOCH=99999999999 "${B[@]}" -o "$tmp/out.iso"
expect epoch-option 2 "romimg: error: --source-date-epoch 99999999999 is out of range: squashfs stores 32-bit times" -- \
  "${B[@]}" -o "$tmp/out.iso" --source-date-epoch 99999999999
mkdir -p "$tmp/ro"
if mount -t tmpfs -o ro,size=1m tmpfs "$tmp/ro" 2>/dev/null; then
  expect cache-read-only 1 "romimg: error: the cache $tmp/ro/cache \(\\\$ROMIMG_CACHE\): $tmp/ro is not writable \(Read-only file system\): choose a writable place" -- \
    env ROMIMG_CACHE="$tmp/ro/cache" "${B[@]}" -o "$tmp/out.iso"
  umount "$tmp/ro"
else
  chmod 0555 "$tmp/ro"
  expect cache-read-only 1 "romimg: error: the cache $tmp/ro/cache \(\\\$ROMIMG_CACHE\): $tmp/ro is not writable" -- \
    setpriv --reuid=65534 --regid=65534 --clear-groups env ROMIMG_CACHE="$tmp/ro/cache" "${B[@]}" -o "$tmp/out.iso"
fi
expect cache-home 2 "romimg: error: the cache $HOME \(\\\$ROMIMG_CACHE\) (is a system directory|is $HOME itself)" -- \
  env ROMIMG_CACHE="$HOME" "${B[@]}" -o "$tmp/out.iso"
check build-nothing-made test ! -e "$tmp/work" -a ! -e "$tmp/out.iso"

# Integer options never wrap around.
expect boot-mem-wrap 2 "romimg: error: --mem 4294967808 is out of range" -- "$romimg" boot --mem 4294967808 x.iso
expect verify-mem-huge 2 "romimg: error: --mem 99999 is too large: at most 65536 \(MB\)" -- "$romimg" verify --mem 99999 x.iso
expect build-jobs 2 "romimg: error: --jobs must be 1 to 4096, got -3" -- "${B[@]}" --jobs -3
expect build-jobs-wrap 2 "romimg: error: --jobs 9999999999 is out of range" -- "${B[@]}" --jobs 9999999999

# romimg boot on something that is not a bootable image fails at once instead of hanging.
echo "not an image" > notiso
xorriso -as mkisofs -quiet -R -o plain.iso "$tmp/sentinel" 2>/dev/null
expect boot-not-iso 1 "romimg: error: notiso is not an ISO 9660 image" -- timeout 20 "$romimg" boot notiso
expect boot-not-bootable 1 "romimg: error: plain.iso is an ISO 9660 image but not a bootable one \(no El Torito boot record" -- \
  timeout 20 "$romimg" boot plain.iso

# verify and boot do not create a missing TMPDIR on the host.
expect verify-tmpdir 1 "romimg: error: TMPDIR=$tmp/no-such-tmp is not an existing directory: create it, or unset TMPDIR" -- \
  env TMPDIR="$tmp/no-such-tmp" "$romimg" verify "$tmp/none.iso"
check verify-tmpdir-not-created test ! -e "$tmp/no-such-tmp"

# Hints name options that exist: --cache-dir only where romimg kernel is meant.
expect cache-hint 1 "set ROMIMG_CACHE=DIR \(\`romimg kernel\` also takes --cache-dir DIR\)" -- \
  env -u HOME -u ROMIMG_CACHE "${B[@]}" -o "$tmp/out.iso"
exit $fail
