#!/usr/bin/env bash
# Fixture: the i386 apache+tomcat appliance traced the translated way (--trace-route translated:
# this host's amd64 services traced, what they used carried over into the cached i386 staging
# root by path and package), the route a build host without IA32 emulation takes. The boot
# tests (e2e.i386-translated.*) are its proof. Also checks that the build says which way it
# traced, and that the image records it.
set -euo pipefail
romimg=$1 out=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -f "$out"
work="$(dirname "$out")/work-i386-translated"
log="$(dirname "$out")/build-i386-translated.log"
# --retrace: on a host that cannot run i386 programs, auto already took this route for the
# e2e.i386 image, whose base layer (same inputs) would otherwise come from the cache untraced.
"$romimg" build apache tomcat --arch i386 --trace-route translated --retrace --log-console -o "$out" --work "$work" 2>&1 | tee "$log"
grep -q '==> trace: translated: asked for (--trace-route translated)' "$log" || { echo "FAIL: the build did not say it traced translated"; exit 1; }
grep -q 'translate apache (amd64 → i386)' "$log" || { echo "FAIL: no translate stage for apache"; exit 1; }
for s in apache tomcat; do
  report="$work/logs/translate-$s.txt"
  [ -s "$report" ] || { echo "FAIL: no translation report $report"; exit 1; }
  grep -q -- '-> /usr/lib/i386-linux-gnu/' "$report" || { echo "FAIL: $report moved nothing into /usr/lib/i386-linux-gnu"; exit 1; }
done
grep -q -- '-> /usr/lib/jvm/java-17-openjdk-i386/' "$work/logs/translate-tomcat.txt" || { echo "FAIL: the JVM was not carried over"; exit 1; }
manifest=$("$romimg" manifest "$out")
grep -q '^arch     i386 (services traced translated from amd64)' <<<"$manifest" || {
  echo "FAIL: romimg manifest does not say how the services were traced"; head -5 <<<"$manifest"; exit 1; }
# The jails hold i386 programs only: no amd64 file made it in.
"$romimg" manifest "$out" --json > "$work/manifest.json"
if grep -q 'x86_64-linux-gnu\|ld-linux-x86-64\|openjdk-amd64' "$work/manifest.json"; then
  echo "FAIL: an amd64 path is in the image:"; grep -o '"[^"]*\(x86_64-linux-gnu\|ld-linux-x86-64\|openjdk-amd64\)[^"]*"' "$work/manifest.json" | head; exit 1
fi
ls -l "$out"
