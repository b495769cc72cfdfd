#!/bin/sh
# Command-line tests of the document-file commands of tools/weave (new, fork,
# edit, merge, sync, diff, apply, cat, dump, info, dot): the seed notes'
# three-site example through files, determinism, every error path (each one
# line on stderr, exit 2, files untouched), atomic writes, DOT output.
# Usage: cli_files.sh WEAVE_BINARY. Prints one line per check; exit 1 on failure.
set -u
case $1 in /*) weave=$1 ;; *) weave=$(pwd)/$1 ;; esac
case $0 in /*) here=$(dirname "$0") ;; *) here=$(pwd)/$(dirname "$0") ;; esac
scenario=$here/scenarios/ctrlaltdel.wv
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
. "$here/cli_lib.sh"
# unchanged NAME FILE ARGS... — like check with status 2, and FILE keeps its bytes
unchanged() {
    name=$1 file=$2
    shift 2
    cp "$file" "$tmp/before"
    check "$name" 2 '' "$@"
    cmp -s "$tmp/before" "$file" && ok "$name: $file unchanged" || bad "$name: $file changed"
}
no_temp_files() {
    left=$(find "$tmp" -name '.*.??????' | head -3)
    [ -z "$left" ] && ok "$1: no temporary file left" || bad "$1: temporary files left: $left"
}
w() { "$weave" "$@"; }

# ---- the seed notes' three-site example, through files ----------------------
check "new" 0 '' new s1.wv --site 1
check "edit ins" 0 '' edit s1.wv ins 0 CMD
same "dump after typing" "$(w dump s1.wv)" "[1|C 1] [1|M 2] [1|D 3]"
check "fork" 0 '' fork s1.wv s2.wv --site 2
same "fork ticks the origin's clock" "$(w info s1.wv | sed -n 's/^clock: //p')" 4
same "the fork starts at that clock" "$(w info s2.wv | sed -n 's/^clock: //p')" 4
w edit s1.wv del 2 1 && w edit s1.wv del 1 && w edit s1.wv ins 1 TRL
same "site 1 types CTRL" "$(w cat s1.wv)" CTRL
same "site 1's weave" "$(w dump s1.wv)" "[1|C 1] [1|T 7] [1|R 8] [1|L 9] [1|M 2] [1|# 6] [1|D 3] [1|# 5]"
w fork s2.wv s3.wv --site 3 && w edit s2.wv ins 3 ALT && w edit s3.wv ins 3 DEL
same "site 2 types CMDALT" "$(w cat s2.wv)" CMDALT
same "site 3 types CMDDEL" "$(w cat s3.wv)" CMDDEL
check "merge 1+2" 0 '' merge m12.wv s1.wv s2.wv
same "1+2 text" "$(w cat m12.wv)" CTRLALT
check "merge 1+2+3" 0 '' merge m.wv s1.wv s2.wv s3.wv
same "cat: CTRLALTDEL" "$(w cat m.wv)" CTRLALTDEL
if [ -f "$scenario" ]; then
    want=$(sed -n 's/^expect-weave m12 //p' "$scenario" | tail -1)
    same "dump equals the scenario's merged weave" "$(w dump m.wv)" "$want"
else
    bad "scenario file $scenario not found"
fi
same "cat ends the text with one newline" "$(w cat m.wv | wc -c | tr -d ' ')" 11

# ---- determinism and merge laws ---------------------------------------------
w merge m2.wv s1.wv s2.wv s3.wv
cmp -s m.wv m2.wv && ok "same merges give the same bytes" || bad "same merges differ in bytes"
w merge t.wv s1.wv s2.wv && w merge t.wv t.wv s3.wv
cmp -s m.wv t.wv && ok "merging in two steps through a file gives the same bytes" || bad "two-step merge differs"
dump=$(w dump m.wv)
for order in "s1.wv s3.wv s2.wv" "s2.wv s1.wv s3.wv" "s3.wv s2.wv s1.wv" "s3.wv s1.wv s3.wv s2.wv"; do
    # shellcheck disable=SC2086
    w merge o.wv $order
    same "merge order $order: same weave" "$(w dump o.wv)" "$dump"
done
same "merge at the first IN's site" "$(w info o.wv | sed -n 's/^site: //p')" 3
cp m.wv idem.wv && w merge idem.wv idem.wv m.wv
same "merging a replica into itself keeps the weave" "$(w dump idem.wv)" "$dump"

# ---- sync --------------------------------------------------------------------
cp s2.wv a.wv && cp s3.wv b.wv
check "sync" 0 '' sync a.wv b.wv
same "sync: A's text" "$(w cat a.wv)" CMDALTDEL
same "sync: same weaves" "$(w dump a.wv)" "$(w dump b.wv)"
same "sync: A keeps its site" "$(w info a.wv | sed -n 's/^site: //p')" 2
same "sync: B keeps its site" "$(w info b.wv | sed -n 's/^site: //p')" 3
check "diff after sync: nothing" 0 '^0 atoms' diff a.wv b.wv

# ---- diff and apply ----------------------------------------------------------
check "diff counts the atoms B lacks" 0 '^6 atoms of m.wv that s1.wv lacks: a delta of [0-9]+ bytes$' \
    diff m.wv s1.wv --out d.bin
size=$(w diff m.wv s1.wv | sed 's/.* of \([0-9]*\) bytes$/\1/')
same "diff's size is the delta file's" "$size" "$(wc -c < d.bin | tr -d ' ')"
cp s1.wv x.wv
check "apply a delta" 0 '' apply x.wv d.bin
same "apply: the delta completes the merge" "$(w dump x.wv)" "$dump"
check "apply the same delta again" 0 '' apply x.wv d.bin
same "applying twice changes no atom" "$(w dump x.wv)" "$dump"
cp s2.wv y.wv
check "apply document bytes" 0 '' apply y.wv s3.wv
same "apply document bytes: merged" "$(w cat y.wv)" CMDALTDEL
w new fresh.wv --site 7
unchanged "apply a delta whose causes are missing" fresh.wv apply fresh.wv d.bin
check "its message names the error" 2 'WV_E_CAUSE' apply fresh.wv d.bin
unchanged "apply a text file" x.wv apply x.wv "$scenario"

# ---- info --------------------------------------------------------------------
info=$(w info m.wv)
for field in "site: 1" "clock: 11" "sites: 3" "weft: 1:9 2:8 3:8" "atoms: 15" "chars: 10" \
    "file bytes: $(wc -c < m.wv | tr -d ' ')"; do
    printf '%s\n' "$info" | grep -qxF "$field" && ok "info: $field" || bad "info: no '$field' in: $info"
done
printf '%s\n' "$info" | grep -qE '^memory bytes: [1-9][0-9]*$' && ok "info: memory bytes" || bad "info: memory bytes ($info)"
printf '%s\n' "$info" | grep -qE '^file bytes/atom: [0-9]+\.[0-9]{2}$' && ok "info: file bytes/atom" || bad "info: file bytes/atom"
printf '%s\n' "$info" | grep -qE '^memory bytes/atom: [0-9]+\.[0-9]{2}$' && ok "info: memory bytes/atom" || bad "info: memory bytes/atom"
same "info of an empty replica" "$(w info fresh.wv | head -5 | tr '\n' ' ')" "site: 7 clock: 0 sites: 0 weft: atoms: 1 "

# ---- text: UTF-8, positions in code points, TEXT starting with -- -----------
w new u.wv --site 5 && w edit u.wv ins 0 "héllo wörld" && w edit u.wv del 1 1 && w edit u.wv ins 1 e
same "UTF-8 text, code point positions" "$(w cat u.wv)" "hello wörld"
check "-- ends the options" 0 '' edit u.wv ins 0 -- "--x "
same "text starting with --" "$(w cat u.wv)" "--x hello wörld"
chmod 640 u.wv && w edit u.wv del 0 4
same "a rewrite keeps the file's mode" "$(stat -c %a u.wv)" 640

# ---- errors: one line on stderr, exit 2, nothing changed ---------------------
check "missing file" 2 'nope.wv: cannot open: No such file' cat nope.wv
check "a directory" 2 'cannot read' dump .
head -c 10 m.wv > trunc.wv
check "truncated file" 2 'trunc.wv: cannot load: .*\(WV_E_TRUNCATED\)' cat trunc.wv
cp m.wv flip.wv
printf '\377' | dd of=flip.wv bs=1 seek=20 conv=notrunc 2>/dev/null
cmp -s m.wv flip.wv && bad "flipping a byte changed nothing" ||
    check "a flipped byte" 2 'flip.wv: cannot load: checksum mismatch: the bytes are damaged \(WV_E_CHECKSUM\)' info flip.wv
printf 'hello\n' > text.wv
check "not a weave file" 2 'text.wv: cannot load: not weave bytes.*\(WV_E_FORMAT\)' dump text.wv
: > empty.wv
check "empty file" 2 'WV_E_TRUNCATED' cat empty.wv
check "a delta is not a document" 2 'd.bin: cannot load: .*\(WV_E_FORMAT\)' cat d.bin
unchanged "insert past the end" s1.wv edit s1.wv ins 5 x
check "its message" 2 's1.wv: position 5 out of range: the text has 4 characters' edit s1.wv ins 5 x
unchanged "delete past the end" s1.wv edit s1.wv del 2 3
check "its message" 2 's1.wv: range 2\+3 out of range: the text has 4 characters' edit s1.wv del 2 3
unchanged "invalid UTF-8" s1.wv edit s1.wv ins 0 "$(printf 'a\377')"
check "its message" 2 's1.wv: ins: text is not valid UTF-8 \(WV_E_UTF8\)' edit s1.wv ins 0 "$(printf 'a\377')"
unchanged "edit: unknown operation" s1.wv edit s1.wv move 0 1
unchanged "edit: bad position" s1.wv edit s1.wv del x
unchanged "edit: unknown option" s1.wv edit s1.wv ins 0 --x
unchanged "new over an existing file" s1.wv new s1.wv --site 9
check "its message" 2 's1.wv exists \(--force replaces it\)' new s1.wv --site 9
cp s1.wv forced.wv
check "new --force replaces" 0 '' new forced.wv --site 9 --force
same "the replaced file is the new replica" "$(w info forced.wv | head -1)" "site: 9"
unchanged "fork onto a site the origin knows" m.wv fork m.wv s9.wv --site 3
check "its message" 2 'm.wv: fork: .*\(WV_E_SITE\)' fork m.wv s9.wv --site 3
[ -e s9.wv ] && bad "failed fork wrote its output" || ok "failed fork wrote no output"
unchanged "fork over an existing file" s1.wv fork s1.wv s2.wv --site 9
w new other.wv --site 1 && w edit other.wv ins 0 XYZ
check "merge of replicas that disagree" 2 'other.wv: merge: .*\(WV_E_CORRUPT\)' merge bad.wv s1.wv other.wv
[ -e bad.wv ] && bad "failed merge wrote its output" || ok "failed merge wrote no output"
unchanged "sync of replicas that disagree" s1.wv sync s1.wv other.wv
check "new without --site" 2 '^usage: weave new FILE --site ID' new n.wv
check "site id 0" 2 "bad site id '0'" new n.wv --site 0
check "site id too large" 2 "bad site id" new n.wv --site 18446744073709551616
check "--site without a value" 2 'needs a value' new n.wv --site
check "unknown option" 2 "unknown option '--out'" cat m.wv --out x
check "too many arguments" 2 '^usage: weave cat FILE$' cat m.wv m.wv
check "merge needs an input" 2 '^usage: weave merge OUT IN' merge m.wv
check "diff --out into a missing directory" 2 'cannot create a temporary file' diff m.wv s1.wv --out nodir/d.bin
check "command --help" 0 '^usage: weave fork IN OUT --site ID' fork --help
check "weave --help lists the file commands" 0 'dot FILE' --help

# ---- atomic writes -------------------------------------------------------------
mkdir target.wv
check "target is a directory" 2 'target.wv: cannot replace it' new target.wv --site 1 --force
[ -d target.wv ] && ok "the directory is still there" || bad "the directory is gone"
no_temp_files "failed rename"
check "target in a missing directory" 2 'cannot create a temporary file' new nodir/x.wv --site 1
if [ "$(id -u)" -eq 0 ]; then
    echo "skip read-only directory: running as root, which may write anywhere"
else
    mkdir ro && cp m.wv ro/m.wv && chmod a-w ro
    unchanged "edit in a read-only directory" ro/m.wv edit ro/m.wv ins 0 x
    chmod u+w ro
fi
no_temp_files "after every command"

# ---- dot -----------------------------------------------------------------------
check "dot" 0 '^digraph weave' dot m.wv
w dot m.wv > m.dot
same "dot: one node per atom" "$(grep -cE '^  a[0-9]+ \[label=' m.dot)" 15
same "dot: one tree edge per atom but the root" "$(grep -cE '^  a[0-9]+ -> a[0-9]+;$' m.dot)" 14
grep -q '<S>1|M 2</S>' m.dot && ok "dot: deleted chars struck out" || bad "dot: deleted chars struck out"
w new sp.wv --site 4 && w edit sp.wv ins 0 "$(printf '<a & "b">\tend')"
w dot sp.wv > sp.dot
grep -q '&lt;a' sp.dot && grep -q 'U+0009' sp.dot && ok "dot: labels escaped" || bad "dot: labels escaped"
if command -v dot >/dev/null 2>&1; then
    for f in m.dot sp.dot; do
        dot -Tsvg "$f" > /dev/null 2>"$tmp/dot.err" && [ ! -s "$tmp/dot.err" ] &&
            ok "graphviz accepts $f" || bad "graphviz rejects $f: $(cat "$tmp/dot.err")"
    done
else
    echo "skip graphviz check: dot is not installed"
fi

echo "cli-files: $pass passed, $fail failed"
[ $fail -eq 0 ]
