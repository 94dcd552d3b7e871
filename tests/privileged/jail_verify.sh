#!/usr/bin/env bash
# `romimg jail SERVICE --verify` passes (trace and verify probes, run from the jail as the
# service's user), and the jail is what it should be: minimal accounts, no secrets, symlink
# hops kept, a manifest that accounts for every file.
set -uo pipefail
romimg=$1 service=$2
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
tmp=$(mktemp -d /tmp/romimg-jail-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
jail=$tmp/jails/$service
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

"$romimg" jail "$service" --out "$jail" --work "$tmp/work" --verify || { echo "FAIL: romimg jail --verify"; exit 1; }
user=$(awk -F: '{print $1}' "$jail/etc/passwd")
check "passwd holds one user ($user)" '[ "$(wc -l < "$jail/etc/passwd")" -eq 1 ]'
check "no root account in the jail" '! grep -q "^root:" "$jail/etc/passwd"'
check "no shadow, gshadow or ssh host keys" '[ ! -e "$jail/etc/shadow" ] && [ ! -e "$jail/etc/gshadow" ] && ! ls "$jail"/etc/ssh/ssh_host_* >/dev/null 2>&1'
# lighttpd's own configuration runs /bin/sh (include_shell) while it starts: the trace sees it.
[ "$service" = lighttpd ] || check "no shell in the jail" '[ ! -e "$jail/usr/bin/dash" ] && [ ! -e "$jail/usr/bin/bash" ]'
check "the merged-/usr links are symlinks" '[ -L "$jail/lib64" ] || [ -L "$jail/lib" ]'
check "the ELF interpreter is there" '[ -e "$jail/lib64/ld-linux-x86-64.so.2" ]'
check "NSS basics are there" '[ -e "$jail/etc/nsswitch.conf" ] && ls "$jail"/usr/lib/x86_64-linux-gnu/libnss_files.so* >/dev/null 2>&1'
check "no device nodes on disk (they are pseudo-definitions)" '[ -z "$(find "$jail" -type c -o -type b | head -1)" ]'
check "manifest lists every regular file" '[ "$(find "$jail" -type f ! -name .romimg-jail | wc -l)" -eq "$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(sum(1 for e in m[\"entries\"] if e[\"type\"] in (\"file\",\"generated\",\"hardlink\")))" "$jail.manifest.json")" ]'
check "manifest table written" 'grep -q "^per package:" "$jail.manifest.txt"'
if [ "$service" = tomcat ]; then
  # jail.properties: the jail's copies carry the additions, the host's files do not.
  skip='tomcat.util.scan.StandardJarScanFilter.jarsToSkip=tomcat10-\*.jar,eclipse-jdt-core\*.jar,'
  check "the jail's catalina.properties skips Debian's versioned container jars" 'grep -q "^$skip" "$jail/etc/tomcat10/catalina.properties"'
  check "the host's catalina.properties is unchanged" '! grep -q "^$skip" /etc/tomcat10/catalina.properties'
  check "the manifest says what romimg added" 'grep -q "romimg added tomcat10-\*.jar,eclipse-jdt-core\*.jar to tomcat.util.scan.StandardJarScanFilter.jarsToSkip" "$jail.manifest.txt"'
  # Webapp messages (the examples' ServletContext.log) reach the console that init drains.
  check "webapp log lines reach the console" 'grep -q "SessionListener: contextInitialized()" "$tmp/work/logs/verify-tomcat.log"'
  # The template's -XX:ErrorFile: a JVM crash report goes to stderr, no hs_err file in the jail.
  java=$(python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb"))["service"]["command"][0])' "$(dirname "$0")/../../jail-templates/tomcat.toml")
  crash=$(unshare -m -p --fork sh -c 'mount -t proc proc "$1/proc" && chroot "$1" "$2" -Xshare:off -XX:MaxMetaspaceSize=2m \
            -XX:+CrashOnOutOfMemoryError -XX:ErrorFile=/proc/self/fd/2 -version' sh "$jail" "$java" 2>&1 || true)
  check "the JVM's crash report goes to stderr" 'case "$crash" in *"A fatal error has been detected by the Java Runtime Environment"*"S U M M A R Y"*) true;; *) false;; esac'
  check "the template asks for it" 'grep -q "\"-XX:ErrorFile=/proc/self/fd/2\"" "$(dirname "$0")/../../jail-templates/tomcat.toml"'
  check "no hs_err file was left in the jail" '[ -z "$(find "$jail" -name "hs_err*" | head -1)" ]'
  # [java] runtime = "jlink": the jail's runtime holds the modules the manifest names, and
  # --verify above ran tomcat on it.
  home=$(dirname "$(dirname "$(readlink -f "$java")")")
  release=$jail$home/release
  check "the jail's runtime is jlink'd (its release names its modules)" 'grep -q "^MODULES=\"java.base .*java.sql" "$release" && ! grep -q "jdk.jshell" "$release"'
  check "the jail's lib/modules is smaller than the host's" '[ "$(stat -c %s "$jail$home/lib/modules")" -lt "$(stat -c %s "$home/lib/modules")" ]'
  check "no JDK tool or jmod in the jail" '[ ! -e "$jail$home/bin/jlink" ] && [ ! -e "$jail$home/jmods" ] && [ ! -e "$jail$home/bin/keytool" ]'
  check "the manifest says which modules and why" 'grep -q "^  module java.sql .*required by" "$jail.manifest.txt" && grep -q "^  module jdk.crypto.ec .*the template" "$jail.manifest.txt"'
  # cds = "service": the JVM maps the archive (-Xshare:on refuses to start without it), and it
  # holds JDK classes tomcat loaded beyond the JDK's default list.
  extra=$(grep -vxF -f "$jail$home/lib/classlist" "$tmp/work/java/tomcat.dumplist" | grep '^javax/management/' | head -1 | tr / .)
  cds=$(unshare -m -p --fork sh -c 'mount -t proc proc "$1/proc" && chroot "$1" "$2" -Xshare:on -XX:+PrintSharedArchiveAndExit \
          -XX:+UnlockDiagnosticVMOptions -XX:+PrintSharedDictionary' sh "$jail" "$java" 2>&1 || true)
  check "the JVM maps the jail's CDS archive and finds it valid (-Xshare:on)" 'grep -q "^archive is valid" <<<"$cds"'
  check "the archive holds a class tomcat loaded beyond the JDK's list (${extra:-none found})" '[ -n "$extra" ] && grep -q " $extra boot_loader" <<<"$cds"'
fi
python3 - "$jail.manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
b, i = m["totals"]["bytes"], m["packages"]["installed_bytes"]
print(f"figure: {m['service']} jail {b} bytes = {100*b/i:.1f}% of {i} bytes installed by {', '.join(m['packages']['service'])} and dependencies")
PY
exit $fail
