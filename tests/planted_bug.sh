#!/bin/sh
# The convergence harness must catch a planted bug in its default run.
# Usage: planted_bug.sh PLANTED_WEAVE REAL_WEAVE [REASON]
#   PLANTED_WEAVE  `weave` built on a library with a bug planted (-Dplant_bug)
#   REAL_WEAVE     the same program on the real library
#   REASON         if given, some seed's DIVERGED line must contain it, and the
#                  reproduction is not replayed (it ends in a misuse `weave
#                  script` cannot express: two clones of one site). Without it,
#                  the shrunk reproduction must fail (exit 1) with the bug and
#                  pass (exit 0) without it.
set -u
planted=$1 real=$2 reason=${3:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$("$planted" fuzz --repro-dir "$dir"); st=$?
printf '%s\n' "$out" | tail -4
[ $st -eq 1 ] || { echo "FAIL: the planted bug went unnoticed (exit $st)"; exit 1; }
printf '%s' "$out" | grep -q 'verdict: DIVERGED' || { echo "FAIL: no DIVERGED verdict"; exit 1; }
repro=$(ls "$dir"/weave-fuzz-seed*.wv 2>/dev/null | head -1)
[ -n "$repro" ] || { echo "FAIL: no reproduction written"; exit 1; }
steps=$(grep -c -v '^#\|^expect' "$repro")
if [ -n "$reason" ]; then
    line=$(printf '%s\n' "$out" | grep 'DIVERGED: ' | grep -F -- "$reason" | head -1)
    [ -n "$line" ] || { echo "FAIL: no seed diverged for the reason '$reason'"; printf '%s\n' "$out" | head -3; exit 1; }
    echo "caught: $line"
    echo "  (shrunk to $(basename "$repro"), $steps script lines)"
    exit 0
fi
"$planted" script "$repro" >/dev/null 2>&1; p=$?
"$real" script "$repro" >/dev/null 2>&1; r=$?
[ $p -eq 1 ] && [ $r -eq 0 ] || { echo "FAIL: repro exits $p with the bug, $r without"; cat "$repro"; exit 1; }
echo "caught: $(basename "$repro") ($steps script lines) fails with the bug and passes without it"
