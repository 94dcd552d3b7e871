#!/usr/bin/env bash
# Hostile templates and romimg.toml values (issue 13, class 2): every string that would reach
# the romlock policy, a mount, a command line or a file name is refused with file:line, the
# key, the value and the fix, before anything runs, by every command that reads a template
# (trace, jail, build), for templates given by path. Nothing is created: no work dir, no ISO.
romimg=$1
. "$(dirname "$0")/lib.sh"
cd "$tmp"

# tpl NAME TOML-AFTER-[service]-COMMAND: writes NAME.toml
tpl() { printf '[service]\ncommand = ["/bin/sleep", "60"]\n%b' "$2" > "$tmp/$1.toml"; }

# refused NAME PATTERN: the same clear error from trace, jail and build; nothing created.
refused() {
  local name=$1 pattern=$2 f="$tmp/$1.toml"
  expect "$name-trace" 1 "romimg: error: $f:$pattern" -- "$romimg" trace --work "$tmp/work" --out "$tmp/out.json" "$f"
  expect "$name-jail" 1 "romimg: error: $f:$pattern" -- "$romimg" jail "$f" --work "$tmp/work" --out "$tmp/jail"
  expect "$name-build" 1 "romimg: error: $f:$pattern" -- "$romimg" build --no-config "$f" --work "$tmp/work" -o "$tmp/out.iso"
  check "$name-nothing-created" test ! -e "$tmp/work" -a ! -e "$tmp/jail" -a ! -e "$tmp/out.iso" -a ! -e "$tmp/out.json"
}

tpl newline '[jail]\nwritable = ["/run/x\\nmount tmpfs /etc nosuid,nodev"]\n'
refused newline "4: jail.writable\[0\] '/run/x.x0amount tmpfs /etc nosuid,nodev' is not usable \(it contains a control character\): name the directory the service writes, like /run/NAME"
tpl space '[jail]\nwritable = ["/run/a b"]\n'
refused space "4: jail.writable\[0\] '/run/a b' is not usable \(it contains whitespace\)"
tpl size '[jail]\nwritable = [{ path = "/run/x", size = "1m,exec,suid" }]\n'
refused size "4: jail.writable\[0\] '1m,exec,suid' is not a size \(digits and one of k, m, g\): write a size like \"16m\""
tpl etc '[jail]\nwritable = ["/etc"]\n'
refused etc "4: jail.writable\[0\] '/etc' is a system directory \(a tmpfs there would hide it\)"
tpl root '[jail]\nwritable = ["/"]\n'
refused root "4: jail.writable\[0\] '/' is a system directory"
tpl dotdot '[jail]\nwritable = ["/run/../etc"]\n'
refused dotdot "4: jail.writable\[0\] '/run/\.\./etc' is not usable \(it is not normalized: it has a '\.\.' component\)"
tpl proc '[jail]\nwritable = ["/proc/sys/kernel"]\n'
refused proc "4: jail.writable\[0\] '/proc/sys/kernel' is in /proc, /sys or /dev"
tpl port 'ports = [70000]\n'
refused port "3: service.ports\[0\] '70000' is out of range: give 1 to 65535"
tpl portwrap 'ports = [4294967376]\n'
refused portwrap "3: service.ports\[0\] '4294967376' is out of range: give 1 to 65535"
tpl signal 'stop_signal = "TERM; rm -rf /"\n'
refused signal "3: service.stop_signal 'TERM; rm -rf /' is not a signal name"
tpl user 'user = "www-data\\nuid 0"\n'
refused user "3: service.user 'www-data.x0auid 0' is not a user or group name"
tpl envkey 'environment = { "LD_PRELOAD=/tmp/x.so X" = "1" }\n'
refused envkey "3: service.environment.LD_PRELOAD=/tmp/x.so X 'LD_PRELOAD=/tmp/x.so X' is not an environment variable name"
tpl ready '[ready]\ncheck = "tcp:99999"\n'
refused ready "4: ready.check 'tcp:99999' is not valid"
tpl log '[jail]\nlogs = ["/var/log/x/../../../etc/passwd"]\n'
refused log "4: jail.logs\[0\] '/var/log/x/\.\./\.\./\.\./etc/passwd' is not usable"
tpl include '[jail]\ninclude = ["../../root/*"]\n'
refused include "4: jail.include\[0\] '\.\./\.\./root/\*' is not absolute: give an absolute glob"
printf '[service]\ncommand = ["/bin/sleep"]\n' > "$tmp/Bad Name.toml"
expect bad-name 1 "romimg: error: $tmp/Bad Name.toml: the template's name 'Bad Name' \(its file name\) is not a service name" -- \
  "$romimg" jail "$tmp/Bad Name.toml" --work "$tmp/work" --out "$tmp/jail"

# romimg.toml and the command line share the checks.
printf 'services = ["apache"]\nhostname = "a b"\n' > "$tmp/romimg.toml"
expect config-hostname 1 "romimg: error: $tmp/romimg.toml:2: hostname must be 1 to 64 letters, digits, '-' and '\.', got 'a b'" -- \
  "$romimg" build -c "$tmp/romimg.toml" --work "$tmp/work" -o "$tmp/out.iso"
printf 'services = ["apache"]\nlog_to = "udp://10.0.0.1:99999"\n' > "$tmp/romimg.toml"
expect config-log-to 1 "romimg: error: $tmp/romimg.toml:2: log_to takes udp://ADDRESS:PORT" -- \
  "$romimg" build -c "$tmp/romimg.toml" --work "$tmp/work" -o "$tmp/out.iso"
expect cli-hostname 2 "romimg: error: --hostname must be 1 to 64 letters, digits, '-' and '\.', got 'evil.x0ahost'" -- \
  "$romimg" build --no-config apache --hostname $'evil\nhost' --work "$tmp/work" -o "$tmp/out.iso"
expect cli-log-to 2 "romimg: error: --log-to takes udp://ADDRESS:PORT \(a numeric IPv4 address or \[IPv6\], a port of 1-65535\), got 'udp://x y:1'" -- \
  "$romimg" build --no-config apache --log-to 'udp://x y:1' --work "$tmp/work" -o "$tmp/out.iso"
check config-nothing-created test ! -e "$tmp/work" -a ! -e "$tmp/out.iso"

# The shipped templates pass.
expect shipped-templates 0 "apache +shipped +.*tomcat +shipped" -- env -u ROMIMG_TEMPLATES HOME="$tmp/nohome" "$romimg" templates
if "$romimg" templates | grep -q '(invalid'; then echo "FAIL shipped-templates-valid: $("$romimg" templates | grep '(invalid')"; fail=1; fi

# The search path: $ROMIMG_TEMPLATES, then the user's ~/.config/romimg/templates, then the
# shipped ones; two templates of one name: the listing says which wins and what it hides, and a
# build says which file it took.
mkdir -p "$tmp/home/.config/romimg/templates" "$tmp/env"
printf 'description = "user apache"\n[service]\ncommand = ["/bin/sleep", "60"]\n' > "$tmp/home/.config/romimg/templates/apache.toml"
printf 'description = "env apache"\n[service]\ncommand = ["/bin/sleep", "60"]\n' > "$tmp/env/apache.toml"
printf 'description = "mine only"\n[service]\ncommand = ["/bin/sleep", "60"]\n' > "$tmp/home/.config/romimg/templates/mine.toml"
expect search-user 0 "apache +user +user apache.*hides [^ ]*/jail-templates/apache.toml \\(shipped\\): user wins.*mine +user +mine only" -- \
  env -u ROMIMG_TEMPLATES -u XDG_CONFIG_HOME HOME="$tmp/home" "$romimg" templates
expect search-env 0 "apache +ROMIMG_TEMPLATES +env apache.*hides $tmp/home/.config/romimg/templates/apache.toml \\(user\\): ROMIMG_TEMPLATES wins.*hides [^ ]*/jail-templates/apache.toml \\(shipped\\)" -- \
  env -u XDG_CONFIG_HOME HOME="$tmp/home" ROMIMG_TEMPLATES="$tmp/env" "$romimg" templates
expect search-xdg 0 "apache +user +user apache" -- env -u ROMIMG_TEMPLATES HOME=/nonexistent XDG_CONFIG_HOME="$tmp/home/.config" "$romimg" templates
expect search-order-shown 0 "searched, first wins:.*ROMIMG_TEMPLATES +$tmp/env.*system +/etc/romimg/templates.*user +$tmp/home/.config/romimg/templates.*shipped " -- \
  env -u XDG_CONFIG_HOME HOME="$tmp/home" ROMIMG_TEMPLATES="$tmp/env" "$romimg" templates
# A build names the template file it took when it is not the shipped one (this one is refused
# just after, for a key templates do not have: nothing is built).
mkdir -p "$tmp/env-bad"
printf '[service]\ncommand = ["/bin/sleep", "60"]\nno_such_key = 1\n' > "$tmp/env-bad/apache.toml"
expect search-build-says 1 "==> template apache: $tmp/env-bad/apache.toml \\(ROMIMG_TEMPLATES\\); it hides $tmp/home/.config/romimg/templates/apache.toml \\(user\\).*romimg: error: $tmp/env-bad/apache.toml:3" -- \
  env -u XDG_CONFIG_HOME HOME="$tmp/home" ROMIMG_TEMPLATES="$tmp/env-bad" "$romimg" build --no-config apache --work "$tmp/work-s" -o "$tmp/out-s.iso"
check search-build-nothing-created test ! -e "$tmp/work-s" -a ! -e "$tmp/out-s.iso"
exit $fail
