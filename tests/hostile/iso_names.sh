#!/usr/bin/env bash
# Crafted ISOs (issue 13, class 1): names and strings inside an ISO are hostile. Each ISO is
# made at test time with `romimg iso` (no kernel build: any bytes do for the kernel and
# initramfs) and then byte-patched: Rock Ridge NM names "zz" become "..", so that a file
# zz/zz/zz/sentinel/data/pwned reads as ../../../sentinel/data/pwned, which `romimg verify`
# used to extract to WORK/parts/payload/../../../sentinel/data/pwned, outside its work dir.
# romimg manifest, diff and verify must refuse every such ISO with a clear error, before
# booting anything, and leave the sentinel tree and the work dir's surroundings unchanged;
# strings that are only shown (why, versions, kernel version) are printed escaped.
romimg=$1
. "$(dirname "$0")/lib.sh"
export SOURCE_DATE_EPOCH=1700000000
cd "$tmp"
head -c 8192 /dev/zero > K
head -c 1024 /dev/zero > I
echo pwned > evil

# describe DIR SERVICE_NAME WHY [VERSION]: a complete /romimg/ description (what romimg build writes).
describe() {
  local d=$1 name=$2 why=$3 version=${4:-9.1}
  mkdir -p "$d/jails"
  cat > "$d/image.json" <<JSON
{"format": 1, "label": "ROMIMG", "cmdline": "console=ttyS0 romlock.mode=enforce", "source_date_epoch": 1700000000,
 "romlock_mode": "enforce",
 "services": [{"name": "$name", "ports": [80], "ready": "tcp:80", "probes": ["GET / 200"], "exec_lock": true}],
 "layers": [{"iso_path": "live/root.sqfs", "sha256": "$(printf 'a%.0s' {1..64})", "bytes": 1, "mount": "/"}]}
JSON
  cat > "$d/kernel.json" <<JSON
{"version": "6.12.0-romimg \u001b[2J\u001b[31mFAKE", "config_sha256": "x", "cache_key": "k", "source": "s", "compiler": "c"}
JSON
  printf 'mount tmpfs /jail/svc/run nosuid,nodev,noexec\nchroot /jail/svc\nseal\n' > "$d/romlock.policy"
  printf 'hostname romimg\nservice svc\nroot /jail/svc\nargv /bin/true\nend\n' > "$d/appliance.conf"
  cat > "$d/jails/svc.json" <<JSON
{"service": "svc", "entries": [
 {"path": "/bin/true", "type": "file", "mode": "0755", "uid": 0, "gid": 0, "size": 1, "sha256": "s",
  "package": "coreutils", "version": "$version", "reason": "traced", "why": "$why"}]}
JSON
}

# make_iso OUT DESCRIPTION_DIR [SRC=ISOPATH...]
make_iso() {
  local out=$1 d=$2; shift 2
  local adds=()
  for f in image.json kernel.json romlock.policy appliance.conf jails/svc.json; do adds+=(--add "$d/$f=romimg/$f"); done
  for a in "$@"; do adds+=(--add "$a"); done
  "$romimg" -q iso --kernel K --initramfs I "${adds[@]}" -o "$out" --work-dir "$tmp/isowork" >/dev/null ||
    { echo "FAIL: could not make $out"; exit 1; }
}

# patch IN OUT FROM TO: every Rock Ridge NM entry named FROM renamed TO (same length).
patch_nm() {
  python3 - "$@" <<'PY'
import sys
src, dst, a, b = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode().decode('unicode_escape').encode('latin-1')
assert len(a) == len(b)
d = open(src, 'rb').read()
head = bytes([ord('N'), ord('M'), 5 + len(a), 1, 0])
n = d.count(head + a)
assert n > 0, "no NM entry named %r" % a
open(dst, 'wb').write(d.replace(head + a, head + b))
PY
}

describe good svc "traced: opened by the service"
make_iso clean.iso good evil=zz/zz/zz/sentinel/data/pwned evil=live/zzz
patch_nm clean.iso dotdot.iso zz ..
patch_nm clean.iso control.iso zzz 'z\nz'
patch_nm clean.iso escape.iso zzz 'z\x1bz'

# Sanity: the clean twin is read (so the refusals below are about the names, nothing else).
expect clean-manifest 0 "image ROMIMG, SOURCE_DATE_EPOCH 1700000000" -- "$romimg" manifest clean.iso

bad_dotdot="holds a file named '[.][.]' \(it has a '[.][.]' component\): romimg reads only the plain names it writes; this image was crafted or damaged, rebuild it with \`romimg build\`"
expect dotdot-manifest 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" manifest dotdot.iso
expect dotdot-manifest-json 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" manifest --json dotdot.iso
expect dotdot-diff-new 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" diff clean.iso dotdot.iso
expect dotdot-diff-old 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" diff dotdot.iso clean.iso
mkdir -p "$tmp/deep/a/b"
expect dotdot-verify 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" verify --work "$tmp/deep/a/b/work" dotdot.iso
check dotdot-verify-wrote-nothing test ! -e "$tmp/sentinel/data/pwned" -a ! -e "$tmp/deep/a/b/work" -a ! -e "$tmp/deep/pwned"
before=$(ls -A /tmp | grep -c '^romimg-verify-' || true)
expect dotdot-verify-tmp 1 "romimg: error: dotdot.iso $bad_dotdot" -- "$romimg" verify dotdot.iso
check dotdot-verify-no-scratch test "$(ls -A /tmp | grep -c '^romimg-verify-' || true)" -eq "$before"
check dotdot-verify-no-qemu bash -c "! pgrep -f '[q]emu-system.*$tmp' >/dev/null"

bad_control="holds a file named 'live/z.x0az' \(it contains a control character\)"
expect control-manifest 1 "romimg: error: control.iso $bad_control" -- "$romimg" manifest control.iso
expect control-verify 1 "romimg: error: control.iso $bad_control" -- "$romimg" verify --work "$tmp/w2" control.iso
expect escape-verify 1 "romimg: error: escape.iso holds a file named 'live/z.x1bz'" -- "$romimg" verify escape.iso
check escape-no-raw-esc bash -c '! "$1" verify "$2" 2>&1 | grep -q $'"'"'\x1b'"'"'' _ "$romimg" escape.iso

# image.json values: every one that becomes a name, path, port or boot loader line.
hostile_json() {  # NAME PATTERN SED-EXPRESSION
  local name=$1 pattern=$2 expr=$3
  rm -rf "j-$name"; cp -r good "j-$name"
  sed -i "$expr" "j-$name/image.json"
  make_iso "$name.iso" "j-$name"
  expect "json-$name-manifest" 1 "romimg: error: romimg/image.json: $pattern" -- "$romimg" manifest "$name.iso"
  expect "json-$name-verify" 1 "romimg: error: romimg/image.json: $pattern" -- "$romimg" verify --work "$tmp/w-$name" "$name.iso"
  check "json-$name-no-work-dir" test ! -e "$tmp/w-$name"
}
hostile_json service-path "services\[0\]\.name '\.\./\.\./etc' is not a service name" 's/"name": "svc"/"name": "..\/..\/etc"/'
hostile_json service-newline "services\[0\]\.name 'svc.x0aromimg-init: svc is ready' is not a service name" \
  's/"name": "svc"/"name": "svc\\nromimg-init: svc is ready"/'
hostile_json port "services\[0\]\.ports '70000' is not a TCP port \(1-65535\)" 's/"ports": \[80\]/"ports": [70000]/'
hostile_json ready "services\[0\]\.ready 'tcp:65616' is not a ready check \(expected tcp:PORT with a port of 1-65535\)" 's/"ready": "tcp:80"/"ready": "tcp:65616"/'
hostile_json layer "layers\[0\]\.iso_path '\.\./\.\./\.\./etc/shadow' is not a safe ISO path" \
  's/"iso_path": "live\/root.sqfs"/"iso_path": "..\/..\/..\/etc\/shadow"/'
hostile_json mount "layers\[0\]\.mount '/jail/\.\./etc' is not a mount point" 's/"mount": "\/"/"mount": "\/jail\/..\/etc"/'
hostile_json cmdline "kernel command line must be printable ASCII on one line" \
  's/"cmdline": "console=ttyS0/"cmdline": "console=ttyS0\\n  APPEND init=\/bin\/sh/'
hostile_json mode "romlock_mode 'off' is not enforce or permissive" 's/"romlock_mode": "enforce"/"romlock_mode": "off"/'

# Strings that are only shown are escaped: no escape sequence, no forged line.
describe shown svc 'traced\nFAKE LINE: everything is fine' '9.1\u001b]0;owned\u0007'
make_iso shown.iso shown
out=$("$romimg" manifest shown.iso 2>&1); status=$?
check shown-manifest-ok test "$status" -eq 0
check shown-manifest-no-raw-control bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" <<<"$(tr -d "\n" <<<"$1")"' _ "$out"
check shown-manifest-escaped grep -qF 'kernel   6.12.0-romimg \x1b[2J\x1b[31mFAKE' <<<"$out"
check shown-manifest-version grep -qF 'coreutils                9.1\x1b]0;owned\x07' <<<"$out"
check shown-manifest-no-forged-line bash -c '! grep -q "^FAKE LINE" <<<"$1"' _ "$out"
check shown-manifest-why grep -qF '(traced\x0aFAKE LINE: everything is fine)' <<<"$out"
out=$("$romimg" diff clean.iso shown.iso 2>&1); status=$?
check shown-diff-different test "$status" -eq 3
check shown-diff-no-raw-control bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" <<<"$(tr -d "\n" <<<"$1")"' _ "$out"
check shown-diff-no-forged-line bash -c '! grep -q "^FAKE LINE" <<<"$1"' _ "$out"
check shown-diff-escaped grep -qF 'package coreutils: 9.1 -> 9.1\x1b]0;owned\x07' <<<"$out"

[ "$sentinel_before" = "$(tree_sum "$tmp/sentinel")" ] || { echo "FAIL: the sentinel tree changed"; fail=1; }
exit $fail
