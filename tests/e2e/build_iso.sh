#!/usr/bin/env bash
# Fixture: the apache+tomcat appliance ISO, built once per test run and shared by the e2e tests.
set -euo pipefail
romimg=$1 out=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$out"
"$romimg" build apache tomcat --log-console -o "$out" --work "$(dirname "$out")/work"
ls -l "$out"
