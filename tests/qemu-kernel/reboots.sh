#!/bin/sh
# reboots.sh panic|watchdog BZIMAGE INITRD LOG ARCH: the machine comes back by itself
# (docs/limits.md). QEMU runs without -no-reboot, so a reboot is the firmware starting the kernel
# again: a second "Linux version" banner on the serial console.
#  panic:    a kernel panic reboots the machine after panic= seconds instead of hanging. The
#            appliance's kernel is booted with the panic= of the image's command line and an
#            rdinit= that does not exist, so it panics ("VFS: Unable to mount root fs") before
#            any init runs.
#  watchdog: a hardware watchdog that is no longer petted resets the machine. The kernel boots the
#            romlock test init with ROMLOCK_TEST=watchdog on a machine with QEMU's i6300esb: it
#            arms /dev/watchdog for 6 s, pets it once and stops, as a hung PID 1 would. panic=0
#            (no reboot on a panic), so only the watchdog can bring the second banner.
set -u
what=$1 bzimage=$2 initrd=$3 log=$4 arch=$5
panic=10  # builder/plans.cc kernel_cmdline

case "$arch" in
x86_64) qemu=qemu-system-x86_64 cpu="" ;;
i386) qemu=qemu-system-i386 cpu="-cpu pentium3" ;;
*) echo "reboots.sh: unknown arch $arch (x86_64 or i386)" >&2; exit 2 ;;
esac
case "$what" in
panic) device="" append="console=ttyS0 panic=$panic rdinit=/no-such-init" ;;
watchdog) device="-device i6300esb" append="console=ttyS0 panic=0 ROMLOCK_TEST=watchdog" ;;
*) echo "reboots.sh: unknown case $what (panic or watchdog)" >&2; exit 2 ;;
esac
rm -f "$log"
$qemu -accel tcg $cpu -m 256 -smp 2 -nodefaults -display none -serial "file:$log" $device \
    -kernel "$bzimage" -initrd "$initrd" -append "$append" &
qemu_pid=$!
trap 'kill $qemu_pid 2>/dev/null' EXIT

# Two banners, or give up after 240 s (a TCG boot to the panic takes 5-30 s).
i=0
while [ $i -lt 240 ]; do
    [ "$(grep -ac 'Linux version' "$log" 2>/dev/null)" -ge 2 ] && break
    kill -0 $qemu_pid 2>/dev/null || break
    grep -aq "WATCHDOG-MISSING" "$log" 2>/dev/null && break
    sleep 1
    i=$((i + 1))
done
kill $qemu_pid 2>/dev/null
wait $qemu_pid 2>/dev/null

fail() {
    echo "FAIL: $*; last lines of $log:" >&2
    tail -n 30 "$log" | tr -d '\r' >&2
    exit 1
}
second_boot() {
    [ "$(grep -ac 'Linux version' "$log")" -ge 2 ] || fail "no second boot within 240 s of QEMU's start"
}
if [ "$what" = panic ]; then
    grep -aq "Kernel panic - not syncing" "$log" || fail "the kernel did not panic"
    grep -aq "Rebooting in $panic seconds" "$log" || fail "the panic did not say it reboots in $panic seconds"
    second_boot
    grep -a "Kernel panic\|Rebooting in" "$log" | head -n 2 | tr -d '\r'
    echo "ok: the panic rebooted the machine ($arch); the kernel started again"
else
    grep -aq "WATCHDOG-MISSING" "$log" && fail "the kernel has no /dev/watchdog for the i6300esb"
    grep -aq "WATCHDOG-ARMED" "$log" || fail "the test init did not arm the watchdog"
    grep -aq "Kernel panic" "$log" && fail "the kernel panicked (the reset must come from the watchdog)"
    second_boot
    armed=$(grep -an "WATCHDOG-ARMED" "$log" | head -n 1 | cut -d: -f1)
    second=$(grep -an "Linux version" "$log" | sed -n 2p | cut -d: -f1)
    [ "$second" -gt "$armed" ] || fail "the second boot came before the watchdog was armed"
    grep -a "WATCHDOG-ARMED" "$log" | head -n 1 | tr -d '\r'
    echo "ok: the unpetted watchdog reset the machine ($arch); the kernel started again"
fi
