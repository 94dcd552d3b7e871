#!/usr/bin/env bash
# Data loss (issue 13, class 4): romimg deletes only what it provably made. `romimg jail --out X`
# leaves someone else's X.old alone; a work dir that is someone else's non-empty directory is
# refused and left as it was; /, system directories, $HOME and the source tree are refused as
# work or jail directories; an existing file that is not an ISO is never replaced by -o.
romimg=$1 source_dir=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (romimg jail traces)"; exit 77; }
. "$(dirname "$0")/lib.sh"
cd "$tmp"
printf '[service]\ncommand = ["/bin/true"]\n' > tiny.toml

# Someone else's X.old, beside the jail romimg makes twice (the second run replaces the first).
mkdir -p "$tmp/sentinel/out/tiny.old"
echo "not romimg's" > "$tmp/sentinel/out/tiny.old/keep"
sentinel_before=$(tree_sum "$tmp/sentinel")
J=("$romimg" -q jail ./tiny.toml --out "$tmp/sentinel/out/tiny" --work "$tmp/work")
"${J[@]}" >/dev/null 2>&1 || { echo "FAIL: first jail build"; fail=1; }
sentinel_before=$(tree_sum "$tmp/sentinel")   # the jail itself is new; from here nothing may change but it
"${J[@]}" >/dev/null 2>&1 || { echo "FAIL: second jail build"; fail=1; }
check jail-old-kept grep -qx "not romimg's" "$tmp/sentinel/out/tiny.old/keep"
check jail-replaced test -e "$tmp/sentinel/out/tiny/.romimg-jail" -a -e "$tmp/sentinel/out/tiny/bin/true"
check jail-no-leftovers bash -c '[ -z "$(ls -A "$1" | grep -v "^tiny\(\.old\|\.manifest\.json\|\.manifest\.txt\)\?$")" ]' _ "$tmp/sentinel/out"
rm -rf "$tmp/sentinel/out/tiny" "$tmp/sentinel/out/tiny.manifest."*
sentinel_before=$(tree_sum "$tmp/sentinel")

# A jail --out that is someone else's directory.
expect jail-out-theirs 1 "romimg: error: $tmp/sentinel/data exists and is not a jail romimg made: refusing to replace it" -- \
  "$romimg" jail ./tiny.toml --out "$tmp/sentinel/data" --work "$tmp/work"

# Work dirs that are someone else's, or dangerous.
mkdir -p "$tmp/sentinel/theirs/iso" "$tmp/sentinel/theirs/rootfs" "$tmp/sentinel/theirs/content/apache-1"
echo mine > "$tmp/sentinel/theirs/iso/file"
sentinel_before=$(tree_sum "$tmp/sentinel")
theirs="--work $tmp/sentinel/theirs is an existing directory romimg did not make \(no .romimg-work in it\): refusing to use it"
expect work-theirs-jail 2 "romimg: error: $theirs" -- "$romimg" jail ./tiny.toml --out "$tmp/jail" --work "$tmp/sentinel/theirs"
expect work-theirs-trace 2 "romimg: error: $theirs" -- "$romimg" trace --work "$tmp/sentinel/theirs" -- /bin/true
expect work-theirs-build 2 "romimg: error: $theirs" -- \
  "$romimg" build --no-config ./tiny.toml --fast -o "$tmp/out.iso" --work "$tmp/sentinel/theirs"
expect work-theirs-verify 2 "romimg: error: $theirs" -- "$romimg" verify --work "$tmp/sentinel/theirs" "$tmp/none.iso"
check work-theirs-no-marker test ! -e "$tmp/sentinel/theirs/.romimg-work"
expect work-root-build 2 "romimg: error: --work /: refusing, it is a system directory" -- \
  "$romimg" build --no-config ./tiny.toml -o "$tmp/out.iso" --work /
expect work-root-jail 2 "romimg: error: --work /: refusing, it is a system directory" -- \
  "$romimg" jail ./tiny.toml --out "$tmp/jail" --work /
expect work-etc-trace 2 "romimg: error: --work /etc: refusing, it is a system directory" -- "$romimg" trace --work /etc -- /bin/true
expect work-home 2 "romimg: error: --work $HOME: refusing, it (is a system directory|is $HOME itself)" -- \
  "$romimg" build --no-config ./tiny.toml -o "$tmp/out.iso" --work "$HOME"
expect work-source-tree 2 "romimg: error: --work $source_dir: refusing, it is $source_dir itself" -- \
  "$romimg" build --no-config ./tiny.toml -o "$tmp/out.iso" --work "$source_dir"
expect work-above-source 2 "romimg: error: --work $(dirname "$source_dir"): refusing, it holds $source_dir" -- \
  "$romimg" jail ./tiny.toml --out "$tmp/jail" --work "$(dirname "$source_dir")"
expect jail-out-root 2 "romimg: error: --out /: refusing, it is a system directory" -- \
  "$romimg" jail ./tiny.toml --out / --work "$tmp/work"
expect verify-work-usr 2 "romimg: error: --work /usr: refusing, it is a system directory" -- \
  "$romimg" verify --work /usr "$tmp/none.iso"
expect iso-work-dir-root 2 "romimg: error: --work-dir /: refusing, it is a system directory" -- \
  "$romimg" iso --kernel tiny.toml --initramfs tiny.toml -o "$tmp/out.iso" --work-dir /
check nothing-made test ! -e "$tmp/jail" -a ! -e "$tmp/out.iso"

# -o over a file that is not an ISO.
expect output-not-iso 2 "romimg: error: -o $tmp/sentinel/etc/passwd exists and is not an ISO image: romimg replaces only ISOs" -- \
  "$romimg" build --no-config ./tiny.toml -o "$tmp/sentinel/etc/passwd" --work "$tmp/work"
exit $fail
