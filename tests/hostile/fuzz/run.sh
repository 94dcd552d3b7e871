#!/bin/sh
# run.sh FUZZER SECONDS CORPUS SEEDS ARTIFACTS: one bounded libFuzzer run. New inputs go to CORPUS
# (in the build tree), the committed SEEDS are read; a crash, sanitizer report or uncaught
# exception fails the test and leaves the input in ARTIFACTS (reproduce: FUZZER FILE).
# By hand, longer: tests/hostile/fuzz/run.sh build/tests/hostile/fuzz/fuzz_recipe 3600 /tmp/c tests/hostile/fuzz/corpus/recipe /tmp/a
set -u
fuzzer=$1 seconds=$2 corpus=$3 seeds=$4 artifacts=$5
[ -x "$fuzzer" ] || { echo "SKIP: $fuzzer is not built (needs clang, libclang-rt-14-dev)"; exit 77; }
rm -rf "$artifacts" && mkdir -p "$corpus" "$artifacts" || exit 1
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$seeds" > "$artifacts.log" 2>&1
st=$?
grep -v '^#[0-9]' "$artifacts.log" | grep -v '^"' | tail -40
ls "$artifacts" | grep -q . && { echo "FAIL: findings in $artifacts:" >&2; ls -l "$artifacts" >&2; exit 1; }
exit $st
