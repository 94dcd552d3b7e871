#!/usr/bin/env bash
# The target and the root to build from (issue 14), given wrong the way a stranger would:
# each refused before any work with an error naming the problem and the fix, nothing left
# behind (no work dir, no ISO, no staging root, no mount).
romimg=$1
. "$(dirname "$0")/lib.sh"
cd "$tmp"
B=("$romimg" build --no-config apache --work "$tmp/work" -o "$tmp/out.iso")
mounts_before=$(wc -l < /proc/self/mountinfo)

expect unknown-arch 2 "romimg: error: --arch 'sparc' is not a target romimg builds: use one of amd64, i386" -- "${B[@]}" --arch sparc
expect arch-case 2 "romimg: error: --arch 'I386' is not a target romimg builds: use one of amd64, i386" -- "${B[@]}" --arch I386
printf 'arch = "x86"\n' > "$tmp/romimg.toml"
expect config-arch 1 "romimg.toml.*'x86'.*amd64, i386" -- "$romimg" build -c "$tmp/romimg.toml" apache --work "$tmp/work" -o "$tmp/out.iso"
expect root-missing 2 "romimg: error: --root $tmp/nowhere: not a directory; give the root directory of a configured Debian system" -- \
  "${B[@]}" --root "$tmp/nowhere"
mkdir -p "$tmp/empty"
expect root-not-debian 2 "romimg: error: --root $tmp/empty: not a Debian root \(it has no /var/lib/dpkg/status\)" -- "${B[@]}" --root "$tmp/empty"
expect root-is-file 2 "romimg: error: --root $tmp/sentinel/data/keep: not a directory" -- "${B[@]}" --root "$tmp/sentinel/data/keep"
host_arch=$(dpkg --print-architecture)
other=i386; [ "$host_arch" = i386 ] && other=amd64
expect root-wrong-arch 2 "romimg: error: --root / is an $host_arch system, but the image is for $other: give --arch $host_arch, or a root of the target's arch" -- \
  "${B[@]}" --arch "$other" --root /
# A root with a dpkg database but no accounts: the jails' owners cannot be mapped.
mkdir -p "$tmp/half/var/lib/dpkg"
: > "$tmp/half/var/lib/dpkg/status"
expect root-no-accounts 2 "romimg: error: --root $tmp/half: .*(passwd|group)" -- "${B[@]}" --root "$tmp/half"
expect route-unknown 2 "romimg: error: --trace-route qemu: not a way to trace; use auto .*native or translated" -- \
  "${B[@]}" --arch i386 --trace-route qemu
expect route-own-arch 2 "romimg: error: --trace-route translated: the image is for this host's own arch \($host_arch\)" -- \
  "${B[@]}" --trace-route translated
expect staging-route-unknown 2 "romimg: error: --staging-route qemu: not a way to make the staging root; use auto .*native or qemu-user" -- \
  "${B[@]}" --arch i386 --staging-route qemu
expect staging-route-own-arch 2 "romimg: error: --staging-route qemu-user: the image is for this host's own arch \($host_arch\)" -- \
  "${B[@]}" --staging-route qemu-user
expect staging-route-with-root 2 "romimg: error: --staging-route native: --root .* is the root; no staging root is made" -- \
  "${B[@]}" --arch i386 --root "$tmp/half" --staging-route native
printf 'staging_route = "binfmt"\n' > "$tmp/staging.toml"
expect config-staging-route 1 "staging_route is auto or native or qemu-user, got 'binfmt'" -- \
  "$romimg" build -c "$tmp/staging.toml" apache --work "$tmp/work" -o "$tmp/out.iso"
printf 'trace_route = "emulated"\n' > "$tmp/route.toml"
expect config-route 1 "trace_route is auto or native or translated, got 'emulated'" -- \
  "$romimg" build -c "$tmp/route.toml" apache --work "$tmp/work" -o "$tmp/out.iso"
check nothing-made test ! -e "$tmp/work" -a ! -e "$tmp/out.iso"
check no-stray-mounts test "$mounts_before" -eq "$(wc -l < /proc/self/mountinfo)"
exit $fail
