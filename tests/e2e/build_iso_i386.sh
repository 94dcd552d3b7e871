#!/usr/bin/env bash
# Fixture: the i386 apache+tomcat appliance (romimg build --arch i386), built once per test run
# from the staging root romimg makes and caches, and shared by the e2e.i386 tests.
set -euo pipefail
romimg=$1 out=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$out"
"$romimg" build apache tomcat --arch i386 --log-console -o "$out" --work "$(dirname "$out")/work-i386"
ls -l "$out"
