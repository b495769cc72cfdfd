#!/bin/sh
# serve_api.sh WEAVE — the HTTP API of `weave serve`, through curl: bad
# requests (oversized, invalid UTF-8, malformed JSON or parameters, unknown
# paths, documents or sites, wrong methods, stale bases) get their HTTP error
# and change nothing; a two-panel session, one panel offline, converges; an
# edit typed on an older text keeps what was merged meanwhile; a selection
# is mapped through a remote merge; a restart restores every panel; the
# server exits 0 on SIGTERM and the host database passes `weave host check`.
set -u
weave=$1
command -v curl >/dev/null 2>&1 || { echo "skipped: curl not found"; exit 77; }
tmp=$(mktemp -d)
db=$tmp/serve.db
pid=
fails=0
trap 'test -n "$pid" && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM

fail() { echo "FAIL $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

start() {
    : >"$tmp/out"
    "$weave" serve --db "$db" --port 0 >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    i=0
    while [ ! -s "$tmp/out" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    url=$(head -n 1 "$tmp/out")
    case $url in http://127.0.0.1:*/) ;; *) echo "FAIL no URL from weave serve: $url"; cat "$tmp/err"; exit 1 ;; esac
}

stop() {
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    pid=
    [ $rc -eq 0 ] && ok "the server exits 0 on SIGTERM" || { fail "the server exited $rc on SIGTERM"; cat "$tmp/err"; }
}

# req METHOD PATH [curl args...]: sets code and body
req() {
    method=$1 path=$2
    shift 2
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$method" "$@" "$url${path#/}")
    body=$(cat "$tmp/body")
}
post() { req POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }

# expect CODE WHAT: the last request's status
expect() {
    if [ "$code" = "$1" ]; then ok "$2 -> $1"; else fail "$2: want $1, got $code: $body"; fi
}

# Fields of a reply holding one panel, or of panel SITE in a state reply.
panel_of() { printf '%s' "$body" | sed 's/{"site":/\n{"site":/g' | grep "^{\"site\":$1,"; }
field() { printf '%s' "$2" | sed -n "s/^.*\"$1\":\([0-9a-z]*\).*\$/\1/p" | head -n 1; }
text_of() { printf '%s' "$1" | sed -n 's/^.*"text":"\([^"]*\)".*$/\1/p' | head -n 1; }
sent_of() { printf '%s' "$1" | sed -n 's/^.*"sent":\([0-9]*\).*$/\1/p' | head -n 1; }

# ---- the command line: bad options exit 2, a file that is no host database 1
for args in "--port 70000" "--port x" "--bind nowhere" "--doc" "--colour red"; do
    # shellcheck disable=SC2086
    "$weave" serve --db "$tmp/never.db" $args >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -eq 2 ] && ok "weave serve $args: exit 2" || fail "weave serve $args: exit $rc"
done
[ ! -e "$tmp/never.db" ] && ok "bad options create no database" || fail "bad options created $tmp/never.db"
echo "not a database" >"$tmp/text.db"
"$weave" serve --db "$tmp/text.db" --port 0 >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "weave serve:" "$tmp/err" && ok "a text file as --db: exit 1, $(cat "$tmp/err")" \
    || fail "a text file as --db: exit $rc: $(cat "$tmp/err")"

start
req GET / && expect 200 "GET / (the page)"
printf '%s' "$body" | grep -q '<textarea' || fail "the page has no textarea"
req GET /app.js && expect 200 "GET /app.js"
req GET /api/state && expect 200 "GET /api/state"
p1=$(panel_of 1) p2=$(panel_of 2)
[ -n "$p1" ] && [ -n "$p2" ] && ok "a new document has panels at sites 1 and 2" || fail "no panels 1 and 2: $body"
t1=$(field tok "$p1") t2=$(field tok "$p2")
before=$body

# ---- bad requests: each gets its error; then the state is byte for byte the same
post /api/edit 'nonsense' && expect 400 "a body that is not JSON"
post /api/edit '{"doc":"demo","site":1,"colour":1}' && expect 400 "an unknown field"
post /api/edit '{"doc":"demo","site":1,"site":2}' && expect 400 "a field twice"
post /api/edit '{"doc":"demo"}' && expect 400 "no site"
post /api/edit '{"doc":"demo","site":0}' && expect 400 "site 0"
post /api/edit '{"doc":"demo","site":"1"}' && expect 400 "site as a string"
post /api/edit '{"doc":"demo","site":-1}' && expect 400 "a negative site"
post /api/edit '{"doc":"demo","site":1.5}' && expect 400 "a fractional site"
post /api/edit '{"doc":"demo","site":1e3}' && expect 400 "an exponent"
post /api/edit '{"doc":"demo","site":01}' && expect 400 "a leading zero"
post /api/edit '{"doc":"demo","site":99999999999999999999999}' && expect 400 "an integer too large"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\"}" && expect 400 "text without base"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\",\"base\":$t1} x" && expect 400 "trailing bytes after the object"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\",\"base\":$t1" && expect 400 "a truncated object"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\\ud800\",\"base\":$t1}" && expect 400 "a lone surrogate escape"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\\q\",\"base\":$t1}" && expect 400 "an unknown escape"
printf '{"doc":"demo","site":1,"text":"caf\351","base":%s}' "$t1" >"$tmp/latin1"
post /api/edit "@$tmp/latin1" && expect 400 "text in Latin-1 (invalid UTF-8)"
printf '{"doc":"demo","site":1,"text":"\355\240\200","base":%s}' "$t1" >"$tmp/surrogate"
post /api/edit "@$tmp/surrogate" && expect 400 "an encoded surrogate (invalid UTF-8)"
printf '{"doc":"demo","site":1,"text":"a\tb","base":%s}' "$t1" >"$tmp/ctl"
post /api/edit "@$tmp/ctl" && expect 400 "a raw control character in a string"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"abc\",\"base\":$t1,\"sel\":[2,4]}" && expect 400 "sel past the text"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"abc\",\"base\":$t1,\"sel\":[2,1]}" && expect 400 "sel reversed"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"abc\",\"base\":$t1,\"sel\":[1]}" && expect 400 "sel of one number"
post /api/edit '{"doc":"demo","site":1,"sel":[0,0]}' && expect 400 "sel without text"
post /api/edit '{"doc":"","site":1}' && expect 400 "an empty document name"
post /api/edit '{"doc":"nope","site":1}' && expect 404 "an unknown document"
post /api/edit '{"doc":"demo","site":7}' && expect 404 "an unknown site"
post /api/fork '{"doc":"demo","site":7}' && expect 404 "fork of an unknown site"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"abc\",\"base\":12345}" && expect 409 "a base the server never gave"
post /api/edit "{\"doc\":\"demo\",\"site\":2,\"text\":\"abc\",\"base\":$t1}" && expect 409 "a base of another site's panel"
head -c 1100000 /dev/zero | tr '\0' 'a' | sed "s/^/{\"doc\":\"demo\",\"site\":1,\"base\":$t1,\"text\":\"/; s/\$/\"}/" >"$tmp/big"
post /api/edit "@$tmp/big" && expect 413 "a body over 1 MiB"
req POST /api/edit -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$tmp/big" \
    && expect 413 "a chunked body over 1 MiB"
req POST /api/edit -H 'Content-Type: text/plain' --data-binary '{"doc":"demo","site":1}' && expect 415 "a text/plain body"
req POST /api/edit --data-binary '{"doc":"demo","site":1}' && expect 415 "a form-encoded body"
req POST '/api/edit?doc=demo' -H 'Content-Type: application/json' --data-binary '{"doc":"demo","site":1}' \
    && expect 400 "a query string on a POST"
req GET /api/edit && expect 405 "GET of a POST path"
req POST /api/state -d '{}' && expect 405 "POST of a GET path"
req DELETE / && expect 405 "DELETE of the page"
req GET /nope && expect 404 "an unknown path"
req GET /api/state -H 'Host: attacker.example' && expect 403 "a Host that is not this machine (DNS rebinding)"
req GET /api/state -H 'Host: localhost:1' && expect 200 "Host localhost"
req GET /api/state -H 'Host: [::1]:80' && expect 200 "Host [::1]"
code=$(curl -s -o /dev/null -D "$tmp/headers" -w '%{http_code}' -X PUT "${url}api/state")
[ "$code" = 405 ] && grep -qi '^Allow: GET' "$tmp/headers" && ok "PUT /api/state -> 405, Allow: GET" \
    || fail "PUT /api/state: $code $(cat "$tmp/headers")"
req GET '/api/state?doc=nope' && expect 404 "state of an unknown document"
req GET '/api/state?bogus=1' && expect 400 "an unknown query parameter"
req GET '/api/state?doc=%FF' && expect 400 "a document name of invalid UTF-8"
req GET /api/state
[ "$body" = "$before" ] && ok "bad requests changed nothing" || fail "the state changed after bad requests"

# ---- two panels: site 2 offline, both edit, site 2 reconnects: one text
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"hello\",\"base\":$t1}" && expect 200 "site 1 types hello"
t1=$(field tok "$body")
post /api/edit '{"doc":"demo","site":2}' && expect 200 "site 2 polls"
[ "$(text_of "$body")" = hello ] && ok "connected site 2 pulls hello" || fail "site 2: $body"
post /api/disconnect '{"doc":"demo","site":2}' && expect 200 "site 2 disconnects"
[ "$(field connected "$body")" = false ] || fail "site 2 is still connected: $body"
t2=$(field tok "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":2,\"text\":\"hello world\",\"base\":$t2}" && expect 200 "offline site 2 types"
t2=$(field tok "$body")
[ "$(field pending "$body")" = 6 ] && ok "site 2 holds 6 pending atoms" || fail "site 2 pending: $body"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"Oh hello\",\"base\":$t1}" && expect 200 "site 1 types"
t1=$(field tok "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":2,\"text\":\"hello world\",\"base\":$t2}" && expect 200 "offline site 2 polls"
[ "$(text_of "$body")" = "hello world" ] && ok "offline site 2 sees only its own edit" || fail "site 2: $body"
post /api/connect "{\"doc\":\"demo\",\"site\":2,\"text\":\"hello world\",\"base\":$t2}" && expect 200 "site 2 reconnects"
[ "$(text_of "$body")" = "Oh hello world" ] && ok "site 2 merged: Oh hello world" || fail "site 2: $body"
[ "$(field pending "$body")" = 0 ] || fail "site 2 still has pending atoms: $body"
t2=$(field tok "$body")
req GET /api/state
[ "$(field refused "$body")" -ge 1 ] 2>/dev/null && ok "site 2's proposal was refused (WV_E_BUSY), then read, applied, retried" \
    || fail "no WV_E_BUSY refusal: $(field refused "$body")"
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"Oh hello\",\"base\":$t1,\"sel\":[3,8]}" && expect 200 "site 1 polls"
[ "$(text_of "$body")" = "Oh hello world" ] && ok "site 1 merged: Oh hello world" || fail "site 1: $body"
printf '%s' "$body" | grep -q '"sel":\[3,8\]' && ok "site 1's selection of hello kept" || fail "sel: $body"
t1=$(field tok "$body")

# ---- a remote insert before a selection moves it
post /api/edit "{\"doc\":\"demo\",\"site\":2,\"text\":\">> Oh hello world\",\"base\":$t2}" && expect 200 "site 2 inserts before"
t2=$(field tok "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"Oh hello world\",\"base\":$t1,\"sel\":[3,8]}" && expect 200 "site 1 polls"
printf '%s' "$body" | grep -q '"sel":\[6,11\]' && ok "site 1's selection follows hello: [6,11]" || fail "sel: $body"
t1=$(field tok "$body")

# ---- an edit typed on an older text (the client did not take the last reply)
post /api/edit "{\"doc\":\"demo\",\"site\":2,\"text\":\">> Oh hello world!\",\"base\":$t2}" && expect 200 "site 2 appends !"
t2=$(field tok "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\">> Oh, hello world\",\"base\":$t1,\"sel\":[6,6]}" \
    && expect 200 "site 1 types a comma, on a text without the !"
[ "$(text_of "$body")" = ">> Oh, hello world!" ] && ok "both kept: >> Oh, hello world!" || fail "site 1: $body"
printf '%s' "$body" | grep -q '"sel":\[6,6\]' && ok "caret after the comma" || fail "sel: $body"
sent=$(sent_of "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\">> Oh, hello world?\",\"base\":$sent}" \
    && expect 200 "site 1 types on the text it sent, not the reply"
[ "$(text_of "$body")" = ">> Oh, hello world?!" ] && ok "typed on the sent text: >> Oh, hello world?!" || fail "site 1: $body"
t1=$(field tok "$body")
post /api/edit "{\"doc\":\"demo\",\"site\":1,\"text\":\"x\",\"base\":$sent}" && expect 409 "a base two replies old"

# ---- fork, merge now
post /api/fork '{"doc":"demo","site":2}' && expect 200 "fork site 2"
printf '%s' "$body" | grep -q '"created":{"site":3,' && ok "the fork is site 3" || fail "fork: $body"
post /api/disconnect '{"doc":"demo","site":2}' && expect 200 "site 2 disconnects"
post /api/merge '{"doc":"demo","site":2}' && expect 200 "site 2 merges now, offline"
[ "$(text_of "$body")" = ">> Oh, hello world?!" ] && [ "$(field connected "$body")" = false ] \
    && ok "merge now synced site 2 and left it offline" || fail "merge: $body"

# ---- another process writes to the same document meanwhile (weave host
# write: its own connection, its own lock(v, n) retries); connected panels
# pull its entries and end with the host's very weave
"$weave" host write "$db" demo --site 100 --txns 25 --edits 3 --seed 7 >"$tmp/writer" 2>&1 &
writer=$!
for i in 1 2 3 4 5 6 7 8; do
    post /api/edit '{"doc":"demo","site":1}' >/dev/null
    post /api/edit '{"doc":"demo","site":3}' >/dev/null
done
wait $writer && ok "a concurrent writer process finished" || fail "weave host write: $(cat "$tmp/writer")"
host_hash=$("$weave" host read "$db" demo | sed -n 's/^hash: //p')
for s in 1 3; do
    post /api/edit "{\"doc\":\"demo\",\"site\":$s}"
    [ "$(printf '%s' "$body" | sed -n 's/^.*"hash":"\([0-9a-f]*\)".*$/\1/p')" = "$host_hash" ] \
        && ok "connected site $s holds the host's weave, the writer's entries included" \
        || fail "site $s: hash differs from the host's $host_hash: $body"
done

# ---- restart: every panel as it was
req GET /api/state
panels_before=$(printf '%s' "$body" | sed 's/"tok":[0-9]*,"sent":[0-9]*,//g; s/"x":[0-9]*,"refused":[0-9]*,//')
stop
start
req GET /api/state && expect 200 "state after a restart"
panels_after=$(printf '%s' "$body" | sed 's/"tok":[0-9]*,"sent":[0-9]*,//g; s/"x":[0-9]*,"refused":[0-9]*,//')
[ "$panels_after" = "$panels_before" ] && ok "a restart restores every panel (text, flags, weave)" \
    || fail "after a restart: $panels_after, before: $panels_before"
stop
"$weave" host check "$db" >/dev/null && ok "weave host check passes on the database" || fail "weave host check"

# ---- a long text: its weave view is cut at 20,000 atoms, the count told
db=$tmp/big.db
start
req GET /api/state
t1=$(field tok "$(panel_of 1)")
head -c 25000 /dev/zero | tr '\0' 'x' | sed "s/^/{\"doc\":\"demo\",\"site\":1,\"base\":$t1,\"text\":\"/; s/\$/\"}/" >"$tmp/long"
post /api/edit "@$tmp/long" && expect 200 "25,000 characters typed at once"
atoms=$(printf '%s' "$body" | grep -o '\],\[' | wc -l)
[ "$(field atoms_total "$body")" = 25001 ] && [ "$atoms" -eq 19999 ] \
    && ok "the weave view: 20,000 of 25,001 atoms" || fail "weave view: total $(field atoms_total "$body"), $atoms separators"
stop

[ $fails -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all checks passed"
