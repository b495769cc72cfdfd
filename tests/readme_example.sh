#!/bin/sh
# The C examples in README.md must be tests/example.c and
# tests/example_struct.c, verbatim and in that order, and print what the
# README says they print; every weave-script block of the README must run.
# Usage: readme_example.sh README EXAMPLE EXE EXAMPLE_STRUCT EXE_STRUCT WEAVE
set -eu
readme=$1 example=$2 exe=$3 example_struct=$4 exe_struct=$5 weave=$6

# block LANG N — the Nth ```LANG block of the README (empty when absent)
block() {
    awk -v lang="$1" -v n="$2" '$0 == "```" lang {k++; if (k == n) {on = 1; next}} /^```$/{if (on) exit} on' "$readme"
}
# example N FILE EXE WANT — block N is FILE; EXE prints WANT; the README shows WANT
example() {
    [ "$(block c "$1")" = "$(cat "$2")" ] || { echo "README's C example $1 differs from $2"; exit 1; }
    out=$("$3")
    [ "$out" = "$4" ] || { printf 'example %s printed:\n%s\nexpected:\n%s\n' "$1" "$out" "$4"; exit 1; }
    printf '%s\n' "$4" | while IFS= read -r line; do
        grep -qxF "$line" "$readme" || { echo "README does not show example $1's output line: $line"; exit 1; }
    done
}
example 1 "$example" "$exe" 'bob: position or length outside the document
Hello, world! | same weave: 1'
example 2 "$example_struct" "$exe_struct" '{"items":[{"done":true}],"title":"Notes (draft)"}
2 values: true wins over "soon"'
[ -z "$(block c 3)" ] || { echo "README has a third C block: add it to this test"; exit 1; }

n=1
while [ -n "$(block weave-script $n)" ]; do
    block weave-script $n | "$weave" script - || { echo "README's weave-script example $n fails"; exit 1; }
    n=$((n + 1))
done
[ $n -ge 3 ] || { echo "README has $((n - 1)) weave-script blocks, expected 2 (text, structures)"; exit 1; }
echo "readme examples: ok"
