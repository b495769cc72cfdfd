#!/bin/sh
# hostdb_kill.sh WEAVE — nothing acknowledged is ever lost.
#
# Four `weave host write` processes (sites 1-4, lock windows n = 1, 2, 3, 0,
# each also writing a snapshot every 7 entries inside its proposals) and a
# snapshotter (`weave host snapshot` every ~0.1 s) share one database. For
# WVH_KILL_SECONDS (default 20) a random one of them is killed with SIGKILL
# every 50-400 ms — in the middle of a transaction, a commit, a snapshot, an
# ack — and restarted; a writer resumes from the database (wvh_load at its
# site). Then all four write a few more transactions concurrently, unkilled,
# and read the whole log. Checked:
#   - every `ack SEQ SITE CLOCK...` line printed (only after COMMIT returned)
#     is log entry SEQ, with exactly that site and those atoms;
#   - no atom id (site, clock) is in the log twice;
#   - `weave host check`: every row well formed, every snapshot equal to the
#     replay at its x, the replay passes wv_check;
#   - each writer's own replica (built by local edits and integration) ends
#     equal to the replay of the log prefix it read (`final X HASH`), and
#     the load through snapshots equals the replay from empty.
# Exit 0 when all hold; 1 with the reason otherwise.
set -eu
weave=$1
secs=${WVH_KILL_SECONDS:-20}
W=4
dir=$(mktemp -d "${TMPDIR:-/tmp}/wvh-kill-XXXXXX")
db=$dir/k.db

cleanup() {
    for i in 1 2 3 4; do
        [ -f "$dir/pid.$i" ] && kill -9 "$(cat "$dir/pid.$i")" 2>/dev/null || true
    done
    [ -f "$dir/pid.snapper" ] && kill -9 "$(cat "$dir/pid.snapper")" 2>/dev/null || true
    [ -f "$dir/pid.snap" ] && kill -9 "$(cat "$dir/pid.snap")" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "hostdb_kill: FAIL: $*"
    for f in "$dir"/err.*; do
        [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }
    done
    exit 1
}

rand() { od -An -N4 -tu4 /dev/urandom | tr -d ' \n'; }

start_writer() { # start_writer I [TXNS]
    "$weave" host write "$db" k --site "$1" --txns "${2:-1000000}" --n $(($1 % 4)) \
        --seed "$(rand)" --snapshot-every 7 >>"$dir/out.$1" 2>>"$dir/err.$1" &
    echo $! >"$dir/pid.$1"
}

# A writer that stopped on its own is a failure (an error, a crash).
check_alive() {
    if ! kill -0 "$(cat "$dir/pid.$1")" 2>/dev/null; then
        st=0
        wait "$(cat "$dir/pid.$1")" || st=$?
        fail "writer $1 exited by itself (status $st)"
    fi
}

"$weave" host create "$db" k >/dev/null || fail "create"
for i in 1 2 3 4; do start_writer $i; done

# The snapshotter: a loop whose current child can be killed.
(
    while :; do
        "$weave" host snapshot "$db" k >/dev/null 2>>"$dir/err.snap" &
        echo $! >"$dir/pid.snap"
        wait $! || echo "snapshot status $?" >>"$dir/status.snap"
        sleep 0.1
    done
) 2>/dev/null &
echo $! >"$dir/pid.snapper"

kills=0 snapkills=0
end=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$end" ]; do
    sleep "$(printf '0.%02d' $(( $(rand) % 36 + 5 )))" # 50-400 ms
    r=$(( $(rand) % (W + 1) + 1 ))
    if [ $r -gt $W ]; then
        kill -9 "$(cat "$dir/pid.snap")" 2>/dev/null && snapkills=$((snapkills + 1)) || true
        continue
    fi
    check_alive $r
    pid=$(cat "$dir/pid.$r")
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    start_writer $r
done
for i in 1 2 3 4; do
    check_alive $i
    kill -9 "$(cat "$dir/pid.$i")"
    wait "$(cat "$dir/pid.$i")" 2>/dev/null || true
done
kill -9 "$(cat "$dir/pid.snapper")" 2>/dev/null || true
wait "$(cat "$dir/pid.snapper")" 2>/dev/null || true
kill -9 "$(cat "$dir/pid.snap")" 2>/dev/null || true
# Snapshots that failed other than by SIGKILL (status 137) are errors.
if [ -f "$dir/status.snap" ] && grep -v 'status 137$' "$dir/status.snap" >/dev/null; then
    fail "a snapshot failed: $(grep -v 'status 137$' "$dir/status.snap" | head -1)"
fi

# Quiescence: a few more transactions each, concurrently, then read all.
for i in 1 2 3 4; do start_writer $i 5; done
for i in 1 2 3 4; do
    wait "$(cat "$dir/pid.$i")" || fail "writer $i failed in the final round"
done
rm -f "$dir"/pid.*

"$weave" host check "$db" >"$dir/check" 2>>"$dir/err.check" || fail "weave host check: $(cat "$dir/err.check")"
"$weave" host log "$db" k >"$dir/log" 2>>"$dir/err.log" || fail "weave host log"
cat "$dir"/out.* | grep '^ack ' >"$dir/acks" || fail "no transaction acknowledged"

# Every ack is its log entry, exactly; no atom id twice in the log.
awk -v acks="$dir/acks" '
    { entry[$1] = $0; n++ }
    END {
        while ((getline line < acks) > 0) {
            split(line, f, " ")
            rest = substr(line, 5)          # "SEQ SITE CLOCK..."
            if (!(f[2] in entry)) { print "ack of entry " f[2] " is not in the log: " line; bad = 1; continue }
            if (entry[f[2]] != rest) { print "ack differs from the log: " line " / " entry[f[2]]; bad = 1 }
            if (seen[f[2]]++) { print "entry " f[2] " acknowledged twice"; bad = 1 }
            acked++
        }
        if (bad) exit 1
        print acked, n
    }' "$dir/log" >"$dir/ackcheck" || fail "$(head -3 "$dir/ackcheck")"
dups=$(awk '{ for (i = 3; i <= NF; i++) print $2 ":" $i }' "$dir/log" | sort | uniq -d | head -3)
[ -z "$dups" ] || fail "atom ids logged twice: $dups"

# Convergence: each writer's replica = the replay of the prefix it read.
finals=0
for i in 1 2 3 4; do
    line=$(grep '^final ' "$dir/out.$i" | tail -1)
    [ -n "$line" ] || fail "writer $i printed no final line"
    x=$(echo "$line" | cut -d' ' -f2) h=$(echo "$line" | cut -d' ' -f3)
    got=$("$weave" host read "$db" k --upto "$x" | sed -n 's/^hash: //p')
    [ "$got" = "$h" ] || fail "writer $i at $x holds $h, the log's replay $got"
    finals=$((finals + 1))
done
loaded=$("$weave" host read "$db" k | sed -n '1,2p' | tr '\n' ' ')
replayed=$("$weave" host read "$db" k --replay | sed -n '1,2p' | tr '\n' ' ')
[ "$loaded" = "$replayed" ] || fail "load ($loaded) differs from replay ($replayed)"

set -- $(cat "$dir/ackcheck")
acked=$1 entries=$2
[ "$kills" -ge 5 ] || fail "only $kills writers killed: the test did not test"
[ "$acked" -ge 100 ] || fail "only $acked transactions acknowledged: the test did not test"
echo "hostdb_kill: ${secs}s, $kills writers and $snapkills snapshots killed; $entries log entries," \
    "$acked acknowledged (each present once, exactly), $((entries - acked)) committed unacknowledged;" \
    "$finals writers converged; check ok"
