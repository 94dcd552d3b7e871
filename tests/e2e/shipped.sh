#!/usr/bin/env bash
# A shipped template on its own image (issue 18): `romimg build NAME` traced on this host, jailed,
# booted (BIOS CD, TCG) and probed through the forwards: ready and exec-locked, GET / answered,
# every probe of its template, never died (e2e-boot's target mode).
set -uo pipefail
romimg=$1 boot=$2 service=$3 mem=$4 dir=$5
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
iso=$dir/romimg-$service.iso
rm -rf "$dir/work-$service" "$iso"
mkdir -p "$dir"
"$romimg" -q build "$service" --fast -o "$iso" --work "$dir/work-$service" || { echo "FAIL: romimg build $service"; exit 1; }
"$boot" "$iso" target poweroff "$mem"
status=$?
rm -rf "$dir/work-$service" "$iso"
exit $status
