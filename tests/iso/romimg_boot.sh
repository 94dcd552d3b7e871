#!/bin/sh
# romimg_boot.sh ROMIMG ISO LABEL DIR: `romimg boot` as a user runs it, once as a BIOS CD and
# once as a UEFI USB stick with a port forward: the serial console arrives on its stdout, the
# test init's report says which way it booted, and romimg exits 0 when the guest powers off.
set -u
romimg=$1 iso=$2 label=$3 dir=$4
fail=0
check() {  # check NAME PATTERN FILE
    if ! tr -d '\r' < "$3" | grep -Eq "$2"; then
        echo "FAIL $1: no line matching '$2' in $3" >&2
        tail -n 30 "$3" >&2
        fail=1
    fi
}
out=$dir/romimg-boot-cd.out
timeout 280 "$romimg" boot "$iso" --mem 256 < /dev/null > "$out" 2>&1
st=$?
[ $st -eq 0 ] || { echo "FAIL: romimg boot (BIOS CD) exited $st" >&2; fail=1; }
check bios-cd "^ISO-TEST firmware bios$" "$out"
check bios-cd "^ISO-TEST medium sr[0-9]+ label=$label$" "$out"
check bios-cd "^==> boot: .* BIOS CD with 256 MB" "$out"

port=$((20000 + $$ % 20000))
out=$dir/romimg-boot-uefi-usb.out
timeout 280 "$romimg" boot "$iso" --uefi --usb --forward "$port:80" --mem 256 < /dev/null > "$out" 2>&1
st=$?
[ $st -eq 0 ] || { echo "FAIL: romimg boot --uefi --usb exited $st" >&2; fail=1; }
check uefi-usb "^ISO-TEST firmware uefi$" "$out"
check uefi-usb "^ISO-TEST medium sd[a-z]+ label=$label$" "$out"
check uefi-usb "forwarding 127.0.0.1:$port->80" "$out"
[ $fail -eq 0 ] && echo PASS
exit $fail
