#!/bin/sh
# The convergence harness must catch a planted bug in its default run.
# Usage: planted_bug.sh PLANTED_WEAVE REAL_WEAVE
set -u
planted=$1 real=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$("$planted" fuzz --repro-dir "$dir"); st=$?
printf '%s\n' "$out" | tail -4
[ $st -eq 1 ] || { echo "FAIL: the planted bug went unnoticed (exit $st)"; exit 1; }
printf '%s' "$out" | grep -q 'verdict: DIVERGED' || { echo "FAIL: no DIVERGED verdict"; exit 1; }
repro=$(ls "$dir"/weave-fuzz-seed*.wv 2>/dev/null | head -1)
[ -n "$repro" ] || { echo "FAIL: no reproduction written"; exit 1; }
steps=$(grep -c -v '^#\|^expect' "$repro")
"$planted" script "$repro" >/dev/null 2>&1; p=$?
"$real" script "$repro" >/dev/null 2>&1; r=$?
[ $p -eq 1 ] && [ $r -eq 0 ] || { echo "FAIL: repro exits $p with the bug, $r without"; cat "$repro"; exit 1; }
echo "caught: $(basename "$repro") ($steps script lines) fails with the bug and passes without it"
