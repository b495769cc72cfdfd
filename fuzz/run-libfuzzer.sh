#!/bin/sh
# run-libfuzzer.sh — fuzz every libFuzzer target for a while.
#
#   sh fuzz/run-libfuzzer.sh SECONDS        (from the project root)
#
# Configures build-fuzz once (clang, libFuzzer, ASan + UBSan, warnings as
# errors), builds it, and runs each target fuzz/fuzz_NAME for SECONDS on a
# scratch copy of its corpus fuzz/corpus/NAME, under build-fuzz/fuzz-work/NAME/,
# so the committed corpus stays as it is (copy interesting new inputs from
# there by hand). Prints libFuzzer's final stats for each target. Exits
# non-zero if a target finds a crash, leak, timeout or sanitizer report; the
# crash file's path is printed (replay it with build-fuzz/fuzz/fuzz_NAME
# CRASHFILE, or add it to the corpus once fixed).
set -u

usage() { echo "usage: sh fuzz/run-libfuzzer.sh SECONDS" >&2; exit 2; }
[ $# -eq 1 ] || usage
secs=$1
case $secs in '' | *[!0-9]*) usage ;; esac
[ -f meson.build ] && [ -d fuzz/corpus ] || {
    echo "run-libfuzzer.sh: run from the project root" >&2
    exit 2
}

build=build-fuzz
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzzing_engine=libfuzzer -Dwerror=true \
        -Db_sanitize=address,undefined -Db_lundef=false -Dtests=false || exit 2
fi
ninja -C "$build" || exit 2

# UBSan findings must stop the run like ASan's do.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS

status=0
for dir in fuzz/corpus/*/; do
    name=$(basename "$dir")
    exe=$build/fuzz/fuzz_$name
    if [ ! -x "$exe" ]; then
        echo "run-libfuzzer.sh: no target $exe for corpus $dir" >&2
        status=1
        continue
    fi
    work=$build/fuzz-work/$name
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$dir"* "$work/corpus/" 2>/dev/null
    log=$work/log
    echo "== fuzz_$name: $secs s, corpus $work/corpus, log $log"
    "$exe" -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1
    rc=$?
    # The last status line ("#N DONE cov: ... exec/s: ...") and the counters.
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' "$log"
    crashes=$(ls "$work/artifacts" 2>/dev/null)
    if [ $rc -ne 0 ] || [ -n "$crashes" ]; then
        status=1
        echo "fuzz_$name FAILED (exit $rc); the end of $log:"
        tail -n 40 "$log"
        for f in $crashes; do echo "crash file: $work/artifacts/$f"; done
    else
        echo "fuzz_$name: no crash"
    fi
done
exit $status
