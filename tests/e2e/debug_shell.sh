#!/usr/bin/env bash
# `romimg build --debug-shell` adds a root shell on the console and says so at boot.
set -euo pipefail
romimg=$1 boot=$2 iso=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$iso"
"$romimg" -q build apache --fast --debug-shell -o "$iso" --work "$(dirname "$iso")/work-debug"
"$boot" "$iso" debug-shell poweroff 512
