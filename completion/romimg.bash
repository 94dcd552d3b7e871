# bash completion for romimg: commands, each command's options, template names, ISO files.
# The commands and options are read from romimg's own --help, and the template names from
# `romimg templates`, so this file never falls behind the CLI.
_romimg() {
    local cur prev words cword
    _init_completion || return

    local i cmd=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done

    if [[ -z $cmd ]]; then
        local cmds
        cmds=$("$1" --help 2>/dev/null | awk '/^commands:/{f=1; next} /^$/{f=0} f{print $1}')
        COMPREPLY=($(compgen -W "$cmds -v --verbose -q --quiet -h --help --version" -- "$cur"))
        return
    fi

    case $prev in
        -o | --output | --json | --sign-key | --sign-cert | -c | --config | --kernel | --initramfs | --console)
            _filedir
            return ;;
        --work | --cache-dir | --config-dir | --root)
            _filedir -d
            return ;;
        --arch)
            COMPREPLY=($(compgen -W "amd64 i386 x86_64" -- "$cur"))
            return ;;
        --media)
            COMPREPLY=($(compgen -W "cd dvd" -- "$cur"))
            return ;;
    esac

    if [[ $cur == -* ]]; then
        local opts
        opts=$("$1" "$cmd" --help 2>/dev/null | grep -oE -- '(^|[][ ,|])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[][ ,|]*//' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    case $cmd in
        build | trace | jail)
            local names
            names=$("$1" templates 2>/dev/null | awk 'NR > 1 { if ($0 == "") exit; if ($0 ~ /^[^ ]/) print $1 }')
            COMPREPLY=($(compgen -W "$names" -- "$cur"))
            _filedir toml ;;
        boot | verify | manifest | diff)
            _filedir iso ;;
        cache)
            COMPREPLY=($(compgen -W "prune" -- "$cur")) ;;
        *)
            _filedir ;;
    esac
} && complete -F _romimg romimg
