#!/bin/sh
# Command-line tests of structures: `weave script`'s structure commands (the
# VALUE syntax, json and the expect commands, their errors and exit codes)
# and the document-file commands json, conflicts, set and unset (output,
# every error path: one line on stderr, exit 2, the file unchanged).
# Usage: cli_struct.sh WEAVE_BINARY. Prints one line per check; exit 1 on failure.
set -u
case $1 in /*) weave=$1 ;; *) weave=$(pwd)/$1 ;; esac
case $0 in /*) here=$(dirname "$0") ;; *) here=$(pwd)/$(dirname "$0") ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
. "$here/cli_lib.sh"
w() { "$weave" "$@"; }
# unchanged NAME PATTERN ARGS... — check with status 2 on f.wv; f.wv keeps its bytes
unchanged() {
    name=$1 pattern=$2
    shift 2
    cp f.wv before.wv
    check "$name" 2 "$pattern" "$@"
    cmp -s before.wv f.wv && ok "$name: file unchanged" || bad "$name: file changed"
}
# script NAME STATUS PATTERN — runs `weave script` on stdin's text; the exit
# status must be STATUS and stdout+stderr match PATTERN (empty: anything).
script() {
    name=$1 want=$2 pattern=$3
    cat > s.wv
    out=$("$weave" script s.wv 2>&1)
    got=$?
    if [ "$got" -eq "$want" ] && { [ -z "$pattern" ] || printf '%s' "$out" | grep -qE -- "$pattern"; }; then ok "$name"
    else bad "$name (exit $got, want $want; output: $out)"; fi
}

# ---- document files: set, unset, json, conflicts --------------------------------
check "new" 0 '' new f.wv --site 1
same "json of an empty replica" "$(w json f.wv)" "{}"
check "set a str" 0 '' set f.wv /title 'str:"Notes"'
check "set a list" 0 '' set f.wv items '[]'
check "append a map by path" 0 '' set f.wv items/- '{}'
check "set inside it" 0 '' set f.wv items/0/done false
w set f.wv n 42 && w set f.wv neg -7 && w set f.wv x 1.5 && w set f.wv big 2e3 && w set f.wv z null &&
    w set f.wv t true && w set f.wv tags 'set{}' && w set f.wv rw 'set-rw{}' && w set f.wv c counter &&
    w set f.wv s '"tab\t \"q\" \u00e9 \ud83d\ude00 # not a comment"'
same "json: keys in byte order, numbers, escapes" "$(w json f.wv)" \
    "$(printf '%s' '{"big":2000.0,"c":0,"items":[{"done":false}],"n":42,"neg":-7,"rw":[],"s":"tab\t \"q\" é 😀 # not a comment","t":true,"tags":[],"title":"Notes","x":1.5,"z":null}')"
same "json PATH" "$(w json f.wv /items/0)" '{"done":false}'
same "json PATH without a leading /" "$(w json f.wv items/0/done)" "false"
same "json of a str" "$(w json f.wv /title)" '"Notes"'
same "conflicts without a conflict" "$(w conflicts f.wv /title)" '["Notes"]'
check "unset a key" 0 '' unset f.wv z
check "unset a list element" 0 '' unset f.wv items/0
same "json after unset" "$(w json f.wv /items)$(w json f.wv | grep -c '"z"')" "[]0"
w fork f.wv g.wv --site 2 && w set f.wv title '"from f"' && w set g.wv title '"from g"'
check "sync" 0 '' sync f.wv g.wv
# both entries have the same clock (a fork starts at its origin's clock): site 1 wins
same "concurrent writes: equal clocks, the lower site wins" "$(w json f.wv /title)" '"from f"'
same "conflicts: winner first" "$(w conflicts f.wv /title)" '["from f","from g"]'
same "the other replica agrees" "$(w conflicts g.wv title)" '["from f","from g"]'
w set g.wv title '"merged"' && w sync f.wv g.wv
same "a write that saw both supersedes both" "$(w conflicts f.wv /title)" '["merged"]'
check "--help" 0 '^usage: weave set FILE PATH VALUE' set --help
check "weave --help lists json" 0 'json FILE \[PATH\]' --help

# ---- dump: tokens for structure atoms -----------------------------------------
w new d.wv --site 3 && w set d.wv k '{}' && w set d.wv k/l '[]' && w set d.wv k/n -1 && w edit d.wv ins 0 x
same "dump tokens" "$(w dump d.wv)" \
    "[3|entry 1] [3|'k' 2] [3|{} 3] [3|entry 7] [3|'n' 8] [3|int 9] [3|'\xff' 10] [3|entry 4] [3|'l' 5] [3|[] 6] [3|x 11]"
w dot d.wv > d.dot
grep -q 'label=<3|{} 3<BR/>' d.dot && ok "dot labels structure atoms with the dump's tokens" || bad "dot tokens"
w unset d.wv k/l && w dot d.wv > d.dot
grep -q 'label=<<S>3|entry 4</S><BR/>' d.dot && ok "dot strikes out a deleted entry" || bad "dot: deleted entry"
if command -v dot >/dev/null 2>&1; then
    dot -Tsvg d.dot > /dev/null 2>"$tmp/dot.err" && [ ! -s "$tmp/dot.err" ] &&
        ok "graphviz accepts structure labels" || bad "graphviz rejects d.dot: $(cat "$tmp/dot.err")"
else
    echo "skip graphviz check: dot is not installed"
fi

# ---- errors: one line, exit 2, file unchanged ---------------------------------
unchanged "bad VALUE" "f.wv: bad VALUE 'bogus': not a value \(a VALUE is null, true" set f.wv k bogus
unchanged "empty VALUE" "bad VALUE '': empty value" set f.wv k ''
unchanged "unterminated string" 'unterminated string' set f.wv k '"abc'
unchanged "text after a string" 'text after the closing quote' set f.wv k 'str:"a" b'
unchanged "bad escape" 'bad escape' set f.wv k '"\x"'
unchanged "lone surrogate" 'surrogate' set f.wv k '"\ud800"'
unchanged "leading zero" 'malformed number' set f.wv k 01
unchanged "integer out of range" 'int64 range' set f.wv k 9223372036854775808
unchanged "float out of range" 'too large' set f.wv k 1e999
unchanged "NaN is not JSON" 'not a value' set f.wv k NaN
unchanged "a container literal with content" 'not a value' set f.wv k '[1]'
unchanged "set: no such map" 'f.wv: set nokey/x: no such container, key, index or path \(WV_E_NOTFOUND\)' \
    set f.wv nokey/x 1
unchanged "set: through a str" '\(WV_E_TYPE\)' set f.wv title/x 1
unchanged "set: list index past the end" '\(WV_E_RANGE\)' set f.wv items/1 1
unchanged "set: list index not a number" '\(WV_E_NOTFOUND\)' set f.wv items/x 1
unchanged "set: bad ~ escape" '\(WV_E_ARG\)' set f.wv 'a~2' 1
unchanged "set: the root" '\(WV_E_ARG\)' set f.wv / 1
unchanged "set: key not UTF-8" '\(WV_E_UTF8\)' set f.wv "$(printf 'k\377')" 1
unchanged "unset: unknown key" 'f.wv: unset nokey: no such container, key, index or path \(WV_E_NOTFOUND\)' \
    unset f.wv nokey
unchanged "unset: the root" '\(WV_E_ARG\)' unset f.wv /
unchanged "set: missing VALUE" '^usage: weave set FILE PATH VALUE$' set f.wv k
unchanged "json: unknown key" 'f.wv: json /nokey: no such container, key, index or path \(WV_E_NOTFOUND\)' \
    json f.wv /nokey
unchanged "conflicts: no key" 'f.wv: conflicts /: .*\(WV_E_ARG\)' conflicts f.wv /
unchanged "conflicts: not a map" '\(WV_E_TYPE\)' conflicts f.wv /title/x
unchanged "conflicts: unset key" '\(WV_E_NOTFOUND\)' conflicts f.wv /nokey
check "json: missing file" 2 'nope.wv: cannot open' json nope.wv

# ---- scripts ------------------------------------------------------------------
script "json prints; VALUE and JSON end at a comment" 0 '^\{"a":"x # y","b":\[1,2\.5\]\}$' <<'X'
site a
a set a "x # y"           # a comment after the VALUE
a set b []
a list-ins b 0 1
a list-ins b 1 2.5
json a
expect-json a {"a":"x # y","b":[1,2.5]}   # and after the JSON
expect-json a /b/1 2.5
X
script "structure edits of every kind" 0 '' <<'X'
site a
a set s str:"ac"
a str-ins s 1 b
a str-del s 0
a set l []
a list-ins l 0 "x"
a list-ins l 1 "y"
a list-del l 0
a set t set{}
a set-add t true
a set-add t false
a set-rm t false
a set c counter
a incr c -5
expect-json a {"c":-5,"l":["y"],"s":"bc","t":[true]}
expect-json a / {"c":-5,"l":["y"],"s":"bc","t":[true]}
expect-conflicts a c [-5]
X
for line in "s.wv:3: expect failed: json of 'a' at / is" '  \{"k":1\}' '^expected$' '  \{"k":2\}'; do
    script "expect-json mismatch exits 1, printing: $line" 1 "$line" <<'X'
site a
a set k 1
expect-json a {"k":2}
X
done
script "expect-conflicts mismatch exits 1" 1 's.wv:3: expect failed: conflicts' <<'X'
site a
a set k 1
expect-conflicts a k [1,1]
X
script "expect-atoms mismatch exits 1" 1 "s.wv:3: expect failed: 'a' holds 5 atoms, expected 4" <<'X'
site a
a set k 1
expect-atoms a 4
X
script "bad VALUE exits 2 naming the line" 2 "s.wv:2: bad VALUE 'nope': not a value" <<'X'
site a
a set k nope
X
script "set without a VALUE" 2 's.wv:2: usage: NAME set PATH VALUE' <<'X'
site a
a set k
X
script "list-ins on a str names both types" 2 "s.wv:3: list-ins s: 'a' holds a str there, not a list" <<'X'
site a
a set s str:""
a list-ins s 0 1
X
script "incr of a missing counter" 2 's.wv:2: incr c: .*\(WV_E_NOTFOUND\)' <<'X'
site a
a incr c 1
X
script "incr takes an integer" 2 's.wv:3: usage: NAME incr PATH N' <<'X'
site a
a set c counter
a incr c 1.5
X
script "a set holds scalars only" 2 's.wv:3: set-add t: .*\(WV_E_TYPE\)' <<'X'
site a
a set t set{}
a set-add t {}
X
script "list-del past the end" 2 's.wv:3: list-del l: .*\(WV_E_RANGE\)' <<'X'
site a
a set l []
a list-del l 0
X
script "str-ins with a bad position" 2 's.wv:3: usage: NAME str-ins PATH POS TEXT' <<'X'
site a
a set s str:""
a str-ins s x y
X
script "json of an unknown replica" 2 "s.wv:1: unknown replica 'b'" <<'X'
json b
X
script "json with a trailing word" 2 's.wv:2: usage: json NAME \[/PATH\]' <<'X'
site a
json a /x y
X
script "expect-json without JSON" 2 's.wv:2: usage: expect-json NAME' <<'X'
site a
expect-json a /
X
script "edits inside a deleted container are refused" 2 's.wv:5: set m/k: .*\(WV_E_NOTFOUND\)' <<'X'
site a
a set m {}
a set m/k 1
a unset m
a set m/k 2
X

echo "cli-struct: $pass passed, $fail failed"
[ $fail -eq 0 ]
