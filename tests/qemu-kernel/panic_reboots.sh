#!/bin/sh
# panic_reboots.sh BZIMAGE INITRD LOG ARCH: a kernel panic reboots the machine after panic=
# seconds instead of hanging (docs/limits.md). The appliance's kernel is booted with the panic=
# of the image's command line and an rdinit= that does not exist, so it panics ("VFS: Unable to
# mount root fs") before any init runs; QEMU runs without -no-reboot, so the reboot is the
# firmware starting the kernel again: a second "Linux version" banner on the serial console.
set -u
bzimage=$1 initrd=$2 log=$3 arch=$4
panic=10  # builder/plans.cc kernel_cmdline

case "$arch" in
x86_64) qemu=qemu-system-x86_64 cpu="" ;;
i386) qemu=qemu-system-i386 cpu="-cpu pentium3" ;;
*) echo "panic_reboots.sh: unknown arch $arch (x86_64 or i386)" >&2; exit 2 ;;
esac
rm -f "$log"
$qemu -accel tcg $cpu -m 256 -smp 2 -nodefaults -display none -serial "file:$log" \
    -kernel "$bzimage" -initrd "$initrd" \
    -append "console=ttyS0 panic=$panic rdinit=/no-such-init" &
qemu_pid=$!
trap 'kill $qemu_pid 2>/dev/null' EXIT

# Two banners, or give up after 240 s (a TCG boot to the panic takes 5-30 s).
i=0
while [ $i -lt 240 ]; do
    [ "$(grep -ac 'Linux version' "$log" 2>/dev/null)" -ge 2 ] && break
    kill -0 $qemu_pid 2>/dev/null || break
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
grep -aq "Kernel panic - not syncing" "$log" || fail "the kernel did not panic"
grep -aq "Rebooting in $panic seconds" "$log" || fail "the panic did not say it reboots in $panic seconds"
[ "$(grep -ac 'Linux version' "$log")" -ge 2 ] || fail "no second boot within 240 s of QEMU's start"
grep -a "Kernel panic\|Rebooting in" "$log" | head -n 2 | tr -d '\r'
echo "ok: the panic rebooted the machine ($arch); the kernel started again"
