#!/usr/bin/env bash
# e2e.data-disk (issue 18): an image of the test service datastore (its state in a [data] dir),
# booted with and without data disks by e2e-data (tests/e2e/data_disk.cc says what it checks).
set -uo pipefail
romimg=$1 driver=$2 templates=$3 dir=$4
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v debugfs >/dev/null || { echo "FAIL: debugfs is missing (e2fsprogs; make deps)"; exit 1; }
rm -rf "$dir"; mkdir -p "$dir"
iso=$dir/datastore.iso
ROMIMG_TEMPLATES=$templates "$romimg" build datastore --fast -o "$iso" --work "$dir/work" > "$dir/build.log" 2>&1 ||
  { tail -20 "$dir/build.log"; echo "FAIL: romimg build datastore"; exit 1; }
# The closing hint boots what was built: its port, and a data disk.
grep -q "^boot it:  romimg boot $iso --forward 9098:9098 --data data.img$" "$dir/build.log" &&
  grep -q "^its data disk (datastore): romimg data-disk data.img --size 1g$" "$dir/build.log" ||
  { tail -5 "$dir/build.log"; echo "FAIL: the build's closing hint does not say how to boot it with its data disk"; exit 1; }
echo "ok   the build's closing hint: $(grep '^boot it:' "$dir/build.log")"
"$driver" "$romimg" "$iso" "$dir"
status=$?
[ $status -ne 0 ] || rm -rf "$dir"
exit $status
