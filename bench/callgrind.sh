#!/bin/sh
# bench/callgrind.sh — instruction counts of the hot paths, per commit.
#
# Times on a shared 2-core machine are noisy; callgrind's instruction counts
# are repeatable for the same binary and inputs. This runs weave-bench's
# workloads 1 (trace replay, save, load), 3 (random edits, 8 replicas
# merging) and 4 (1M-atom merges) under callgrind, collecting only inside
# the library calls that make the hot paths, and appends one line to
# bench/results/callgrind.tsv: commit, date, then the inclusive instruction
# counts of each path. A regression shows as a larger number in a column.
# Needs valgrind and ../shared/traces (workload 1 is skipped without them).
set -eu
cd "$(dirname "$0")/.."
build=build-release
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" bench/weave-bench >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
toggles="--toggle-collect=wv_text_insert --toggle-collect=wv_text_delete --toggle-collect=wv_merge"
toggles="$toggles --toggle-collect=wv_encode --toggle-collect=wv_encode_alloc --toggle-collect=wv_decode"
for w in 1 3 4; do
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --collect-atstart=no $toggles --callgrind-out-file="$tmp/cg.$w" \
        "$build/bench/weave-bench" --only $w --runs 1 >/dev/null 2>"$tmp/log.$w" ||
        { cat "$tmp/log.$w"; exit 1; }
done
# inclusive Ir of function F in workload W's profile (0 when absent)
ir() {
    callgrind_annotate --inclusive=yes "$tmp/cg.$1" 2>/dev/null |
        awk -v f=":$2 " '{ line = $0 " " } index(line, f) { gsub(",", "", $1); print $1; found = 1; exit }
                         END { if (!found) print 0 }'
}
edit1=$(( $(ir 1 wv_text_insert) + $(ir 1 wv_text_delete) ))
save1=$(( $(ir 1 wv_encode) + $(ir 1 wv_encode_alloc) )) # the benchmark saves with the second
line="$(git rev-parse --short HEAD)	$(date -u +%Y-%m-%d)	$edit1	$save1	$(ir 1 wv_decode)"
line="$line	$(( $(ir 3 wv_text_insert) + $(ir 3 wv_text_delete) ))	$(ir 3 wv_merge)	$(ir 4 wv_merge)"
out=bench/results/callgrind.tsv
[ -f "$out" ] || printf 'commit\tdate\ttraces_edit_Ir\ttraces_save_Ir\ttraces_load_Ir\trandom_edit_Ir\trandom_merge_Ir\tmerge_1M_Ir\n' > "$out"
printf '%s\n' "$line" >> "$out"
column -t -s "$(printf '\t')" "$out" | tail -n 5
