#!/bin/sh
# check_rule.sh SERIAL_LOG RULE: passes if the boot log has "ROMLOCK-TEST RULE PASS ...";
# fails on FAIL or when the line is missing.
set -u
log=$1 rule=$2
if [ ! -f "$log" ]; then
    echo "no serial log $log (the boot fixture did not run or failed)" >&2
    exit 1
fi
line=$(grep -a "ROMLOCK-TEST $rule \(PASS\|FAIL\)" "$log" | tr -d '\r' | tail -n 1)
if [ -z "$line" ]; then
    echo "no result line for rule '$rule' in $log" >&2
    exit 1
fi
echo "$line"
case "$line" in
*"ROMLOCK-TEST $rule PASS"*) exit 0 ;;
*) exit 1 ;;
esac
