#!/usr/bin/env bash
# Run a command where Graphviz's `dot` cannot be found, as on a machine where pip installed
# everything: each directory of PATH that holds `dot` is replaced by a temporary directory
# of links to everything else in it (graphviz itself stays installed).
#
#     .ci/without-dot.sh python -m pytest tests/test_dot.py
set -euo pipefail

hidden="$(mktemp -d)"
trap 'rm -rf "$hidden"' EXIT

path=""
count=0
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    if [[ -n "$dir" && -e "$dir/dot" ]]; then
        count=$((count + 1))
        copy="$hidden/$count"
        mkdir "$copy"
        for entry in "$dir"/* "$dir"/.[!.]*; do
            [[ -e "$entry" || -L "$entry" ]] || continue
            [[ "$(basename "$entry")" == dot ]] || ln -s "$entry" "$copy/"
        done
        dir="$copy"
    fi
    path="${path:+$path:}$dir"
done

if PATH="$path" command -v dot >/dev/null; then
    echo "without-dot.sh: dot is still on PATH: $(PATH="$path" command -v dot)" >&2
    exit 1
fi
# NBJOBS_GRAPHVIZ would choose for nbjobs: here it must find out by itself
PATH="$path" NBJOBS_GRAPHVIZ= "$@"
