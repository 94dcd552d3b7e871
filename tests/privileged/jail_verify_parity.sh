#!/usr/bin/env bash
# Issue 12: `romimg jail --verify` runs the jail as the appliance will. The test-only rootwrite
# service prints the facts of its confinement (mount flags of its root, devices and tmpfs area,
# rlimits, no_new_privs, uid, capabilities, /proc, environment) and uses its devices; under
# --verify it must print exactly the lines tests/e2e/rootwrite.facts lists, which the e2e test
# also expects from the same program on the booted appliance. romimg runs here with a polluted
# environment: nothing of it may reach the service.
set -uo pipefail
romimg=$1 template=$2 facts=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
tmp=$(mktemp -d /tmp/romimg-parity-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
env SHELL=/bin/evil HOME=/root/leak PATH="/leak:$PATH" LEAK_FROM_BUILDER=1 \
    "$romimg" jail "$template" --out "$tmp/jail" --work "$tmp/work" --verify || { echo "FAIL: romimg jail --verify"; exit 1; }
log=$tmp/work/logs/verify-rootwrite.log
while IFS= read -r want; do
    if grep -qxF "$want" "$log"; then echo "ok   $want"; else echo "FAIL $want"; fail=1; fi
done < "$facts"
envs=$(grep -c '^ROOTWRITE fact:env ' "$log")
wanted=$(grep -c '^ROOTWRITE fact:env ' "$facts")
if [ "$envs" -eq "$wanted" ]; then echo "ok   no other environment variable ($envs)"; else
    echo "FAIL the service saw $envs environment variables, expected $wanted:"; grep '^ROOTWRITE fact:env ' "$log"; fail=1; fi
[ $fail -eq 0 ] || { echo "--- verify log ---"; cat "$log"; }
exit $fail
