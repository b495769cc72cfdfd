# cli_lib.sh — shared by the command-line test scripts (sourced; needs
# $weave, the program, and $tmp, a scratch folder). Counts in $pass, $fail.
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
same() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }

# check NAME STATUS PATTERN ARGS... — runs weave ARGS: the exit status must be
# STATUS and the output (stdout, then stderr) match the ERE PATTERN (empty:
# anything); a failure must print exactly one line, on stderr only.
check() {
    name=$1 want=$2 pattern=$3
    shift 3
    out=$("$weave" "$@" 2>"$tmp/stderr")
    got=$?
    err=$(cat "$tmp/stderr")
    lines=$(wc -l < "$tmp/stderr")
    if [ "$got" -ne "$want" ]; then bad "$name (exit $got, want $want: $out$err)"
    elif [ -n "$pattern" ] && ! printf '%s\n%s' "$out" "$err" | grep -qE -- "$pattern"; then
        bad "$name (output does not match '$pattern': $out$err)"
    elif [ "$want" -ne 0 ] && { [ "$lines" -ne 1 ] || [ -n "$out" ]; }; then
        bad "$name (want one line on stderr, got stdout '$out', stderr '$err')"
    else ok "$name"; fi
}
