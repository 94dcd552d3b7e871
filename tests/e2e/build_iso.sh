#!/usr/bin/env bash
# Fixture: the apache+tomcat appliance ISO, built once per test run and shared by the e2e tests.
set -euo pipefail
romimg=$1 out=$2 templates=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$out"
# The e2e image carries a third, test-only service (rootwrite) from the build tree's templates,
# and a content layer for apache whose marker page e2e-boot fetches.
site=$(dirname "$out")/e2e-site
rm -rf "$site" && mkdir -p "$site"
echo "<h1>romimg-e2e-content-marker</h1>" > "$site/index.html"
ROMIMG_TEMPLATES=$templates "$romimg" build apache tomcat rootwrite --log-console -o "$out" --work "$(dirname "$out")/work" \
    --content apache:/var/www/html="$site"
ls -l "$out"
