#!/usr/bin/env bash
# package.completion (issue 19): the bash completion, as bash runs it (bash-completion's
# _init_completion), against this build's romimg: commands, a command's options, template
# names, ISO files and `cache prune`.
#   completion.sh ROMIMG COMPLETION_SCRIPT
romimg=$1 script=$2
bc=/usr/share/bash-completion/bash_completion
[ -f "$bc" ] || { echo "FAIL: $bc is missing: run \`make deps\` (bash-completion)"; exit 1; }
tmp=$(mktemp -d /tmp/romimg-compl-XXXXXX); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" && ln -s "$(realpath "$romimg")" "$tmp/bin/romimg"
cd "$tmp" && touch site.iso other.txt my.toml
bash --norc --noprofile -c '
  . '"$bc"' ; . '"$script"'
  PATH='"$tmp"'/bin:$PATH
  fail=0
  # complete WORDS... -- EXPECTED...: the completions of the last word contain each EXPECTED,
  # and never one given after "!".
  complete_check() {
    local words=() want=() not=() mode=w
    for a in "$@"; do
      if [ "$a" = "--" ]; then mode=x; continue; fi
      if [ "$mode" = w ]; then words+=("$a"); elif [ "${a:0:1}" = "!" ]; then not+=("${a:1}"); else want+=("$a"); fi
    done
    COMP_WORDS=("${words[@]}"); COMP_CWORD=$(( ${#words[@]} - 1 ))
    COMP_LINE="${words[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
    _romimg romimg "${words[-1]}" "${words[-2]}"
    local got=" ${COMPREPLY[*]} " ok=1
    for w in "${want[@]}"; do [[ $got == *" $w "* ]] || ok=0; done
    for w in "${not[@]}"; do [[ $got == *" $w "* ]] && ok=0; done
    if [ $ok = 1 ]; then echo "ok   ${words[*]} -> ${COMPREPLY[*]}"; else echo "FAIL ${words[*]} -> ${COMPREPLY[*]} (want ${want[*]}, not ${not[*]})"; fail=1; fi
  }
  complete_check romimg b -- build boot "!verify"
  complete_check romimg "" -- build trace jail templates kernel iso boot verify manifest diff cache
  complete_check romimg --ver -- --version
  complete_check romimg build --source -- --source-date-epoch
  complete_check romimg build --con -- --content --content-allow-private
  complete_check romimg verify --mem 256 --t -- --timeout
  complete_check romimg build ap -- apache "!tomcat"
  complete_check romimg build "" -- apache tomcat lighttpd nginx mariadb postgresql my.toml "!site.iso"
  complete_check romimg verify "" -- site.iso "!other.txt"
  complete_check romimg diff site.iso "" -- site.iso
  complete_check romimg cache pr -- prune
  complete_check romimg build --arch "" -- amd64 i386
  exit $fail
'
