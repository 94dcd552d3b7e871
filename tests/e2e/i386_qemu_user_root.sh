#!/usr/bin/env bash
# The staging root made the way a build host without IA32 emulation makes it
# (--staging-route qemu-user): mmdebstrap's i386 package scripts run under qemu-i386-static,
# registered only in a private binfmt_misc of romimg's own user namespace (here that entry
# takes precedence over this host's IA32 emulation, so they really run emulated). Checks that
# the host's binfmt_misc and mounts are left as they were, that the root is cached apart from the
# native one (made once, about 5 minutes; reused after), and boots the apache image on pentium3
# until apache answers with a 200.
set -euo pipefail
romimg=$1 dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v qemu-i386-static >/dev/null || { echo "SKIP: qemu-i386-static is not installed (make deps)"; exit 77; }
rel=$(uname -r); maj=${rel%%.*}; min=${rel#*.}; min=${min%%.*}
if [ "$maj" -lt 6 ] || { [ "$maj" -eq 6 ] && [ "$min" -lt 7 ]; }; then
  echo "SKIP: Linux $rel has no private binfmt_misc (6.7+)"; exit 77
fi
rm -rf "$dir"; mkdir -p "$dir"
iso=$dir/qemu-user-root.iso log=$dir/build.log
binfmt_before=$(ls /proc/sys/fs/binfmt_misc 2>/dev/null | sort | tr '\n' ' ')
mounts_before=$(wc -l < /proc/self/mountinfo)
"$romimg" build apache --no-config --arch i386 --staging-route qemu-user --fast -o "$iso" --work "$dir/work" 2>&1 | tee "$log"
fail=0
grep -Eq 'package scripts run under .*qemu-i386-static|cached .*\(made under qemu-user\)' "$log" ||
  { echo "FAIL: the build did not say its staging root is made under qemu-user"; fail=1; }
root=$(grep -o '/[^ ]*/roots/debian12-i386-[0-9a-f]*' "$log" | head -1)
[ -n "$root" ] && [ "$(cat "$root/made-by.txt")" = qemu-user ] || { echo "FAIL: no qemu-user staging root in the cache ($root)"; fail=1; }
# Its programs are 32-bit ELF (EI_CLASS 1), and the image says it is for i386.
[ "$(od -An -tx1 -j4 -N1 "$root/root/usr/bin/true" | tr -d ' ')" = 01 ] || { echo "FAIL: the root's programs are not 32-bit"; fail=1; }
manifest=$("$romimg" manifest "$iso")  # (not piped into grep -q: pipefail would see manifest's SIGPIPE)
grep -q '^arch     i386' <<<"$manifest" || { echo "FAIL: the image is not for i386"; fail=1; }
[ "$(ls /proc/sys/fs/binfmt_misc 2>/dev/null | sort | tr '\n' ' ')" = "$binfmt_before" ] ||
  { echo "FAIL: the host's binfmt_misc changed: $(ls /proc/sys/fs/binfmt_misc)"; fail=1; }
[ "$(wc -l < /proc/self/mountinfo)" -eq "$mounts_before" ] || { echo "FAIL: a mount was left on the host"; fail=1; }
ls "$root/../" | grep -q '^\.tmp-' && { echo "FAIL: a half-made root is left in the cache"; fail=1; }

# The image boots on a Pentium III and apache answers.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$romimg" boot "$iso" --forward "$port:80" --mem 512 </dev/null > "$dir/boot.log" 2>&1 &
q=$!
trap 'kill $q 2>/dev/null; wait $q 2>/dev/null || true' EXIT
start=$(date +%s) code=
while [ $(( $(date +%s) - start )) -lt 300 ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port/" || true)
  [ "$code" = 200 ] && break
  kill -0 $q 2>/dev/null || break
  sleep 1
done
if [ "$code" = 200 ]; then
  echo "ok   apache on the qemu-user-made root answered 200 ($(( $(date +%s) - start )) s after QEMU started)"
else
  echo "FAIL: apache did not answer (last status '$code'); console:"; tail -30 "$dir/boot.log"; fail=1
fi
exit $fail
