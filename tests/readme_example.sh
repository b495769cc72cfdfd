#!/bin/sh
# The C example in README.md must be tests/example.c, verbatim, and print
# what the README says it prints; the README's weave-script block must run.
# Usage: readme_example.sh README EXAMPLE EXE WEAVE
set -eu
readme=$1 example=$2 exe=$3 weave=$4
block=$(awk '/^```c$/{on=1; next} /^```$/{if(on){exit}} on' "$readme")
[ "$block" = "$(cat "$example")" ] || { echo "README's C example differs from $example"; exit 1; }
out=$("$exe")
want='bob: position or length outside the document
Hello, world! | same weave: 1'
[ "$out" = "$want" ] || { printf 'example printed:\n%s\nexpected:\n%s\n' "$out" "$want"; exit 1; }
grep -qF "Hello, world! | same weave: 1" "$readme" || { echo "README does not show the example's output"; exit 1; }
grep -q '^```weave-script$' "$readme" || { echo "README has no weave-script block"; exit 1; }
awk '/^```weave-script$/{on=1; next} /^```$/{if(on){exit}} on' "$readme" |
    "$weave" script - || { echo "README's weave-script example fails"; exit 1; }
echo "readme examples: ok"
