#!/usr/bin/env bash
# Fixture: the apache+tomcat appliance ISO, built once per test run and shared by the e2e tests.
set -euo pipefail
romimg=$1 out=$2 templates=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$out"
# The e2e image carries a third, test-only service (rootwrite) from the build tree's templates.
ROMIMG_TEMPLATES=$templates "$romimg" build apache tomcat rootwrite --log-console -o "$out" --work "$(dirname "$out")/work"
ls -l "$out"
