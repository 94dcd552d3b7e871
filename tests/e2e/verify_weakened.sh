#!/usr/bin/env bash
# A deliberately weakened image must fail `romimg verify`, with the right checks named:
#   verify_weakened.sh ROMIMG WORKDIR permissive|no-exec-lock|no-hardening-cmdline|no-verity
# permissive:   built with --romlock-mode permissive: romlock only logs, so every refusal that is
#               romlock's must FAIL (mounts, remounts, pivot_root, chroot, policy writes, exec lock)
#               while the refusals that are not romlock's still PASS (read-only root, noexec, caps).
# no-exec-lock: built with --no-exec-lock --seccomp log: only the exec attacks from the jail and
#               the seccomp mode FAIL; romlock's mount rules still hold, and the log-mode filter
#               lets the self-test's calls through while the kernel reports them.
# no-hardening-cmdline: built with --no-hardening-cmdline: only the command-line check FAILs.
# no-verity:    built with --no-verity (benchmarking only): only the verity check FAILs, and init
#               says on the console that the layers are unchecked.
# Either way the services still answer: the positive side passes.
set -uo pipefail
romimg=$1 work=$2 mode=$3
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
iso=$work/weak.iso
case $mode in
  permissive) flags=(--romlock-mode permissive) ;;
  no-exec-lock) flags=(--no-exec-lock --seccomp log) ;;
  no-hardening-cmdline) flags=(--no-hardening-cmdline) ;;
  no-verity) flags=(--no-verity) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
"$romimg" -q build apache --fast "${flags[@]}" -o "$iso" --work "$work/build" || { echo "FAIL: build"; exit 1; }
"$romimg" verify "$iso" --json "$work/report.json" --timeout 300 --console "$work/console.log" >"$work/verify.out" 2>&1
rc=$?
cat "$work/verify.out"
fails=0
expect() {  # expect PASS|FAIL "check name prefix"
  if grep -qF -- "$1  $2" "$work/verify.out"; then echo "ok    $1 $2"
  else echo "WRONG expected $1 $2"; fails=$((fails + 1)); fi
}
[ "$rc" -eq 1 ] && echo "ok    verify exits 1" || { echo "WRONG verify exited $rc, expected 1"; fails=$((fails + 1)); }
grep -q '"passed": false' "$work/report.json" && echo "ok    the JSON report says not passed" ||
  { echo "WRONG the JSON report"; fails=$((fails + 1)); }
expect PASS "apache answers: GET / 200"
expect PASS "apache after the attacks: GET / 200"
expect PASS "self-test jail:apache write-root:"
expect PASS "self-test root exec-copy-tmp:"
if [ "$mode" = no-verity ]; then
  expect FAIL "the root is mounted through dm-verity"
  expect PASS "init reports the boot chain's state"
  expect PASS "the kernel command line carries the hardening parameters"
  expect PASS "apache is exec-locked once ready"
  expect PASS "self-test root dm-reload:"
  expect PASS "self-test root write-policy:"
  if grep -q "NO VERITY: this image was built --no-verity" "$work/console.log"; then echo "ok    init says the layers are unchecked"
  else echo "FAIL  init did not say the layers are unchecked"; fails=$((fails + 1)); fi
  rm -rf "$work"
  [ "$fails" -eq 0 ] && echo "the weakened ($mode) image fails verify with the right checks named" || echo "$fails expectations wrong"
  exit $((fails > 0))
fi
if [ "$mode" = no-hardening-cmdline ]; then
  expect FAIL "the kernel command line carries the hardening parameters"
  expect PASS "the kernel command line enforces romlock"
  expect PASS "apache is exec-locked once ready"
  expect PASS "self-test root write-policy:"
  expect PASS "self-test jail:apache exec-binary:"
  expect PASS "self-test rootjail:apache signal-init:"
  rm -rf "$work"
  [ "$fails" -eq 0 ] && echo "the weakened ($mode) image fails verify with the right checks named" || echo "$fails expectations wrong"
  exit $((fails > 0))
fi
expect PASS "the kernel command line carries the hardening parameters"
if [ "$mode" = permissive ]; then
  expect FAIL "the kernel command line enforces romlock"
  expect FAIL "self-test root romlock-mode:"
  expect FAIL "self-test jail:apache exec-binary:"
  expect FAIL "self-test root remount-root-rw:"
  expect FAIL "self-test root tmpfs-over-etc:"
  expect FAIL "self-test root pivot-root:"
  expect FAIL "self-test root chroot-tmp:"
  expect FAIL "self-test root fsmount-detached:"
  expect FAIL "self-test root write-policy:"
  expect FAIL "self-test rootjail:apache signal-init:"
  expect FAIL "self-test rootjail:apache setns-mount-ns:"
  expect PASS "self-test rootjail:apache open-by-handle:"
else
  expect FAIL "apache is exec-locked once ready"
  expect FAIL "self-test jail:apache exec-binary:"
  expect FAIL "self-test jail:apache fexecve-memfd:"
  expect FAIL "self-test jail:apache exec-orphan:"
  expect PASS "self-test root romlock-mode:"
  expect PASS "self-test root tmpfs-over-etc:"
  expect PASS "self-test root write-policy:"
  expect FAIL "apache runs under its seccomp filter, enforced"
  expect PASS "self-test seccomp:apache filtered:"
  expect PASS "self-test seccomp:apache unlisted: log mode"
  expect PASS "self-test seccomp:apache never: log mode"
  expect PASS "self-test seccomp:apache reported:"
  expect FAIL "self-test rootjail:apache exec-root:"
  expect PASS "self-test rootjail:apache signal-init:"
  expect PASS "self-test rootjail:apache setns-mount-ns:"
fi
rm -rf "$work"
[ "$fails" -eq 0 ] && echo "the weakened ($mode) image fails verify with the right checks named" || echo "$fails expectations wrong"
[ "$fails" -eq 0 ]
