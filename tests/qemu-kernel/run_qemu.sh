#!/bin/sh
# run_qemu.sh BZIMAGE INITRD MODE SERIAL_LOG [ARCH]: boots the romlock test initramfs once under
# TCG with romlock.mode=MODE (MODE "disabled": lsm= without romlock) and saves the serial
# console. ARCH x86_64 (default) or i386 (qemu-system-i386 -cpu pentium3, the i386 target's
# test machine). Succeeds when the test init reached its end (ROMLOCK-TEST-DONE); the per-rule
# verdicts are checked by check_rule.sh.
set -u
bzimage=$1 initrd=$2 mode=$3 log=$4 arch=${5:-x86_64}

case "$arch" in
x86_64) qemu=qemu-system-x86_64 cpu="" ;;
i386) qemu=qemu-system-i386 cpu="-cpu pentium3" ;;
*) echo "run_qemu.sh: unknown arch $arch (x86_64 or i386)" >&2; exit 2 ;;
esac
if ! command -v $qemu >/dev/null 2>&1; then
    echo "$qemu not found: install it with 'make deps'" >&2
    exit 1
fi
case "$mode" in
disabled) lsm_arg="lsm=lockdown,yama" ;;
*) lsm_arg="romlock.mode=$mode" ;;
esac
rm -f "$log"
# TCG only (KVM does not work on these machines). panic=-1 + -no-reboot: a kernel panic ends
# QEMU at once instead of hanging until the timeout.
timeout 300 $qemu -accel tcg $cpu -m 256 -smp 2 -nodefaults -display none \
    -no-reboot -serial "file:$log" \
    -kernel "$bzimage" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 $lsm_arg"
status=$?
if [ $status -eq 124 ]; then
    echo "QEMU did not finish within 300 s (mode $mode); serial log: $log" >&2
fi
if ! grep -aq "ROMLOCK-TEST-DONE" "$log" 2>/dev/null; then
    echo "the test init did not finish (QEMU exit $status); last lines of $log:" >&2
    tail -n 40 "$log" >&2 2>/dev/null
    exit 1
fi
grep -a "ROMLOCK-TEST" "$log" | tr -d '\r'
exit 0
