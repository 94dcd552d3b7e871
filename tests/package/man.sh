#!/usr/bin/env bash
# package.man (issue 19): the man pages the build generated from --help, romimg.toml.example and
# the template format: each formats without a warning, romimg(1) has a section for every
# command `romimg --help` lists and every option each command's --help names.
#   man.sh ROMIMG MAN_DIR
romimg=$1 dir=$2
fail=0
for f in romimg.1 romimg.toml.5 romimg-template.5; do
  [ -s "$dir/$f" ] || { echo "FAIL: $dir/$f was not generated"; fail=1; continue; }
  warn=$(MANWIDTH=100 man --warnings -l "$dir/$f" 2>&1 >/dev/null)
  [ -z "$warn" ] && echo "ok   $f formats cleanly" || { echo "FAIL: $f: $warn"; fail=1; }
done
page=$(MANWIDTH=200 man -l "$dir/romimg.1" 2>/dev/null)
for cmd in $("$romimg" --help | awk '/^commands:/{f=1; next} /^$/{f=0} f{print $1}'); do
  grep -q "^   romimg $cmd\$" <<<"$page" || { echo "FAIL: romimg(1) has no section for romimg $cmd"; fail=1; continue; }
  for opt in $("$romimg" "$cmd" --help | grep -oE -- '(^|[ [,|])--[a-z][a-z0-9-]*' | sed 's/^[][ ,|]*//' | sort -u); do
    grep -qF -- "$opt" <<<"$page" || { echo "FAIL: romimg(1) does not mention $cmd's $opt"; fail=1; }
  done
  echo "ok   romimg(1) documents romimg $cmd"
done
toml=$(MANWIDTH=200 man -l "$dir/romimg.toml.5" 2>/dev/null)
grep -q 'services = \["apache", "tomcat"\]' <<<"$toml" || { echo "FAIL: romimg.toml(5) lacks the example"; fail=1; }
exit $fail
