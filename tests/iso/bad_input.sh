#!/bin/sh
# bad_input.sh ROMIMG DIR: every bad input gives a clear error and the right exit status; a
# failing xorriso leaves the previous ISO at the output path untouched and no temporary file.
set -u
romimg=$1 dir=$2
b=$dir/bad
rm -rf "$b"; mkdir -p "$b/bin"
fail=0
expect() {  # expect STATUS PATTERN -- ARGS...
    want=$1 pat=$2; shift 3
    "$romimg" "$@" > "$b/out" 2> "$b/err"
    st=$?
    if [ $st -ne "$want" ] || ! grep -q -- "$pat" "$b/err"; then
        echo "FAIL: romimg $*: exit $st (wanted $want), stderr:" >&2; cat "$b/err" >&2; fail=1
    else
        echo "ok: romimg $* -> $st: $(head -n 1 "$b/err")"
    fi
}
k=$dir/bzImage i=$dir/test.cpio
expect 2 "volume label 'lower' must be" -- iso --kernel $k --initramfs $i --label lower -o $b/x.iso
expect 2 "--add takes SRC=ISOPATH" -- iso --kernel $k --initramfs $i --add nothing -o $b/x.iso
expect 2 "where romimg puts its boot files" -- iso --kernel $k --initramfs $i --add $k=boot/vmlinuz -o $b/x.iso
expect 2 "must not contain '..'" -- iso --kernel $k --initramfs $i --add $k=../x -o $b/x.iso
expect 2 "GRUB's config syntax" -- iso --kernel $k --initramfs $i --cmdline 'a;b' -o $b/x.iso
expect 1 "kernel $b/none is not a regular file" -- iso --kernel $b/none --initramfs $i -o $b/x.iso
expect 2 "-o OUT.iso is required" -- iso --kernel $k --initramfs $i
expect 2 "--forward takes HOSTPORT:GUESTPORT" -- boot $dir/test.iso --forward 80
expect 2 "ports are 1 to 65535" -- boot $dir/test.iso --forward 70000:80
expect 2 "--mem must be 32 to 65536" -- boot $dir/test.iso --mem 1
expect 1 "no ISO at $b/none.iso" -- boot $b/none.iso
expect 2 "takes one ISO" -- boot

# A failing xorriso (which first writes half an image) must not touch the existing output.
printf 'previous ISO\n' > "$b/out.iso"
cat > "$b/bin/xorriso" <<'XEOF'
#!/bin/sh
out=
while [ $# -gt 0 ]; do [ "$1" = -output ] && out=$2; shift; done
[ -n "$out" ] && printf 'half an image' > "$out"
echo "xorriso: FATAL: simulated failure" >&2
exit 5
XEOF
chmod +x "$b/bin/xorriso"
PATH=$b/bin:$PATH expect 1 "xorriso exited with status 5" -- iso --kernel $k --initramfs $i -o $b/out.iso
[ "$(cat "$b/out.iso")" = "previous ISO" ] || { echo "FAIL: the previous ISO was changed" >&2; fail=1; }
if ls -a "$b" | grep -q '\.tmp\.'; then echo "FAIL: temporary ISO left behind" >&2; ls -a "$b" >&2; fail=1; fi
if ls -a "$b" | grep -q '^\.romimg-iso-'; then
    echo "ok: the failed build's work dir was kept for its log"
else
    echo "FAIL: the failed build's work dir (with its log) was not kept" >&2; fail=1
fi
[ $fail -eq 0 ] && echo PASS
exit $fail
