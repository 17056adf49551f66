#!/usr/bin/env bash
# Run a command where the named programs cannot be found, as on a machine where pip
# installed everything and apt nothing: each directory of PATH that holds one of them is
# replaced by a temporary directory of links to everything else in it (the programs stay
# installed). CI is unset for the command: what is missing here is missing on purpose.
#
#     .ci/without.sh dot -- python -m pytest tests/test_dot.py
#     .ci/without.sh dot tmux valgrind -- python -m pytest
set -euo pipefail

hide=()
while [[ $# -gt 0 && "$1" != -- ]]; do
    hide+=("$1")
    shift
done
if [[ $# -lt 2 || ${#hide[@]} -eq 0 ]]; then
    echo "usage: $0 PROGRAM... -- COMMAND..." >&2
    exit 2
fi
shift

hidden="$(mktemp -d)"
trap 'rm -rf "$hidden"' EXIT

holds_one() {
    local name
    for name in "${hide[@]}"; do
        [[ -e "$1/$name" ]] && return 0
    done
    return 1
}

path=""
count=0
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    if [[ -n "$dir" ]] && holds_one "$dir"; then
        count=$((count + 1))
        copy="$hidden/$count"
        mkdir "$copy"
        for entry in "$dir"/* "$dir"/.[!.]*; do
            [[ -e "$entry" || -L "$entry" ]] || continue
            name="$(basename "$entry")"
            [[ " ${hide[*]} " == *" $name "* ]] || ln -s "$entry" "$copy/"
        done
        dir="$copy"
    fi
    path="${path:+$path:}$dir"
done

for name in "${hide[@]}"; do
    if PATH="$path" command -v "$name" >/dev/null; then
        echo "without.sh: $name is still on PATH: $(PATH="$path" command -v "$name")" >&2
        exit 1
    fi
done
# NBJOBS_GRAPHVIZ would choose for nbjobs: here it must find out by itself
PATH="$path" NBJOBS_GRAPHVIZ= env -u CI "$@"
