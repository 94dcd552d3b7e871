# Shared by the hostile tests: expect a command to fail with a clear romimg error, and prove
# nothing outside the work directory changed (a sentinel tree's checksum, before and after).
# Sourced; sets $tmp (removed on exit), $fail, and a sentinel tree under $tmp/sentinel.
set -uo pipefail
romimg=$(realpath "$romimg")
tmp=$(mktemp -d /tmp/romimg-hostile-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
mkdir -p "$tmp/sentinel/etc" "$tmp/sentinel/data"
echo "root:x:0:0::/root:/bin/sh" > "$tmp/sentinel/etc/passwd"
echo precious > "$tmp/sentinel/data/keep"

# A checksum of every name, mode and content under DIR.
tree_sum() { (cd "$1" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort) | sha256sum; }
sentinel_before=$(tree_sum "$tmp/sentinel")

# expect NAME STATUS PATTERN -- COMMAND...: the exit status and an output line matching the
# extended regex PATTERN (whole output, so it may span lines); the sentinel tree unchanged.
expect() {
  local name=$1 want=$2 pattern=$3; shift 4
  local out status
  out=$("$@" 2>&1); status=$?
  if [ "$status" -ne "$want" ] || ! grep -qzE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: status $status (want $want), output:"; sed 's/^/  | /' <<<"$out"; fail=1; return 1
  fi
  if [ "$sentinel_before" != "$(tree_sum "$tmp/sentinel")" ]; then
    echo "FAIL $name: the sentinel tree outside the work dir changed"; fail=1; return 1
  fi
  echo "ok   $name: $(grep -m1 'romimg: error' <<<"$out" || head -1 <<<"$out")"
}

# check NAME CONDITION...: a test of its own (e.g. a file that must still be there).
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
