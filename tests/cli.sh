#!/bin/sh
# Command-line tests of tools/weave: script errors and exit codes, quoting,
# comments, default site ids, replay of small generated traces and of the
# real traces in ../shared/traces (skipped, saying so, when absent), demo.
# Usage: cli.sh WEAVE_BINARY. Prints one line per check; exit 1 on failure.
set -u
weave=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect_run NAME STATUS PATTERN -- runs `weave script` on stdin's text
expect_run() {
    name=$1 want=$2 pattern=$3
    cat > "$tmp/s.wv"
    out=$("$weave" script "$tmp/s.wv" 2>&1)
    got=$?
    if [ "$got" -eq "$want" ] && { [ -z "$pattern" ] || printf '%s' "$out" | grep -qE -- "$pattern"; }; then ok "$name"
    else bad "$name (exit $got, want $want; output: $out)"; fi
}

expect_run "plain script" 0 '^hello world$' <<'X'
site a
a ins 0 hello world   # trailing comment and blanks are not text
text a
expect a hello world
X
expect_run "quoted text with escapes" 0 '' <<'X'
site a
a ins 0 "tab\there \"q\" back\\slash # not a comment"
expect a "tab\there \"q\" back\\slash # not a comment"
a ins 0 "line\n"
expect a "line\ntab\there \"q\" back\\slash # not a comment"
X
expect_run "default site ids" 0 '' <<'X'
site a
site b 10
fork a c
c ins 0 x
expect-weave c [11|x 2]
fork b d
d ins 0 y
expect-weave d [12|y 2]
X
expect_run "expect mismatch exits 1 naming the line" 1 's.wv:3: expect failed' <<'X'
site a
a ins 0 abc
expect a abd
X
expect_run "expect-weave mismatch exits 1" 1 's.wv:3:' <<'X'
site a
a ins 0 ab
expect-weave a [1|a 1] [1|b 3]
X
expect_run "unknown replica" 2 's.wv:2: unknown' <<'X'
site a
b ins 0 x
X
expect_run "insert past the end" 2 's.wv:3: position 4 out of range' <<'X'
site a
a ins 0 abc
a ins 4 x
X
expect_run "delete past the end" 2 's.wv:3: range 2\+5 out of range' <<'X'
site a
a ins 0 abc
a del 2 5
X
expect_run "malformed position" 2 's.wv:2: usage: NAME ins POS TEXT' <<'X'
site a
a ins x1 abc
X
expect_run "unterminated quote" 2 's.wv:2: bad quoted string' <<'X'
site a
a ins 0 "abc
X
expect_run "unknown command" 2 's.wv:1: unknown command' <<'X'
frobnicate a b
X
expect_run "duplicate replica" 2 "s.wv:2: replica 'a' already exists" <<'X'
site a
site a
X
expect_run "site id taken" 2 's.wv:2: site id 1 is taken' <<'X'
site a 1
site b 1
X
expect_run "fork onto a known site" 2 's.wv:3: site id 1 is taken' <<'X'
site a 1
site b 2
fork b c 1
X
printf 'site a\na ins 0 \377\n' > "$tmp/u.wv"
out=$("$weave" script "$tmp/u.wv" 2>&1); st=$?
if [ $st -eq 2 ] && printf '%s' "$out" | grep -q 'u.wv:2: ins: text is not valid UTF-8'; then ok "invalid UTF-8 rejected"
else bad "invalid UTF-8 rejected (exit $st: $out)"; fi

out=$("$weave" script "$tmp/missing.wv" 2>&1); st=$?
[ $st -eq 2 ] && printf '%s' "$out" | grep -q 'cannot open' && ok "missing script" || bad "missing script ($st: $out)"
out=$("$weave" nonsense 2>&1); st=$?
[ $st -eq 2 ] && printf '%s' "$out" | grep -q 'usage' && ok "unknown subcommand" || bad "unknown subcommand ($st)"

# replay: a generated sequential trace, correct and wrong, plain and gzipped
cat > "$tmp/t.json" <<'X'
{"startContent": "", "endContent": "héllo wörld",
 "txns": [{"time": "x", "patches": [[0, 0, "hello world"]]},
          {"time": "x", "patches": [[1, 1, "é"], [7, 1, "ö"]]}]}
X
out=$("$weave" replay "$tmp/t.json" 2>&1); st=$?
[ $st -eq 0 ] && printf '%s' "$out" | grep -q '3 edits by 1 site.*text matches endContent' && ok "replay small trace" || bad "replay small trace ($st: $out)"
out=$("$weave" replay "$tmp/t.json" --print 2>&1)
[ "$out" = "héllo wörld" ] && ok "replay --print" || bad "replay --print ($out)"
gzip -c "$tmp/t.json" > "$tmp/t.json.gz"
"$weave" replay "$tmp/t.json.gz" >/dev/null 2>&1 && ok "replay gzipped trace" || bad "replay gzipped trace"
sed 's/wörld/world/' "$tmp/t.json" > "$tmp/w.json"
out=$("$weave" replay "$tmp/w.json" 2>&1); st=$?
[ $st -eq 1 ] && printf '%s' "$out" | grep -q 'differs from endContent' && ok "replay detects a wrong result" || bad "replay wrong result ($st: $out)"
printf '{"endContent": "", "txns": [{"patches": [[5, 0, "x"]]}]}' > "$tmp/r.json"
out=$("$weave" replay "$tmp/r.json" 2>&1); st=$?
[ $st -eq 1 ] && printf '%s' "$out" | grep -q 'edit failed' && ok "replay out-of-range patch" || bad "replay out-of-range patch ($st: $out)"
out=$("$weave" replay "$tmp/nope.json" 2>&1); st=$?
[ $st -eq 2 ] && ok "replay missing file" || bad "replay missing file ($st: $out)"

# a concurrent trace: two agents type concurrently, then merge
cat > "$tmp/c.json" <<'X'
{"kind": "concurrent", "endContent": "<YabX", "numAgents": 2,
 "txns": [{"parents": [], "numChildren": 2, "agent": 0, "patches": [[0, 0, "ab"]]},
          {"parents": [0], "numChildren": 1, "agent": 0, "patches": [[2, 0, "X"]]},
          {"parents": [0], "numChildren": 1, "agent": 1, "patches": [[0, 0, "Y"]]},
          {"parents": [1, 2], "numChildren": 0, "agent": 0, "patches": [[0, 0, "<"]]}]}
X
out=$("$weave" replay "$tmp/c.json" --print 2>&1); st=$?
[ $st -eq 0 ] && [ "$out" = "<YabX" ] && ok "replay concurrent trace" || bad "replay concurrent trace ($st: $out)"

traces=${WV_TRACES:-../shared/traces}
if [ -f "$traces/automerge-paper.json.gz" ]; then
    for t in automerge-paper seph-blog1 friendsforever_flat friendsforever; do
        out=$("$weave" replay "$traces/$t.json.gz" 2>&1); st=$?
        [ $st -eq 0 ] && ok "replay $t: $out" || bad "replay $t ($st: $out)"
    done
else
    echo "skip real traces: $traces/automerge-paper.json.gz not found"
fi

out=$("$weave" demo --sites 3 --edits 500 --seed 7 2>&1); st=$?
[ $st -eq 0 ] && printf '%s' "$out" | grep -q 'converged' && ok "demo converges" || bad "demo ($st: $out)"

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
