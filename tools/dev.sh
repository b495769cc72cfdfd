#!/bin/sh
# tools/dev.sh — the project's two commands, for a fresh Debian machine.
#   sh tools/dev.sh demo   install what is missing, build, replay the editing
#                          traces and run a multi-site merge demo
#   sh tools/dev.sh test   install what is missing, build (warnings are
#                          errors), run every test in a release build and in
#                          an ASan+UBSan build; last line: N passed, N failed
#   sh tools/dev.sh test --ci
#                          the same, plus what CI adds (each counted as a
#                          test): thousands of convergence-harness histories
#                          at 2..8 sites, a clang build and a gcc -O3 build of
#                          everything (warnings are errors), and every
#                          libFuzzer target for WV_FUZZ_SECONDS (default 90)
#                          seconds
# Builds go to build-release/ (demo), build/ and build-asan/ (test) and
# build-clang/, build-o3/ and build-fuzz/ (test --ci) at the project root.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

packages="meson ninja-build pkg-config gcc clang libclang-rt-14-dev libxxhash-dev libzstd-dev libmimalloc-dev zlib1g-dev gzip"
packages="$packages libmicrohttpd-dev libsqlite3-dev" # weave serve; weave host (host/)
# test only: curl (weave serve's API test), Chromium, and node with npm
# (installed only when missing: a node from elsewhere is fine) for its
# browser test; sqlite3 (weave host's CLI test damages a row with it)
test_packages="curl chromium sqlite3"

install_missing() {
    missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ "${1:-}" = test ]; then
        for p in $test_packages; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
        done
        command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
    fi
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
}

# setup DIR [meson options...]: configure once, reconfigure if options change
setup() {
    dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then meson configure "$dir" "$@" >/dev/null
    else meson setup "$dir" "$@" >/dev/null; fi
}

# run_suite DIR: runs meson test; adds its counts to the totals
run_suite() {
    log="$1/meson-logs/testlog.txt"
    meson test -C "$1" --print-errorlogs --num-processes 2 || true
    summary=$(sed -n '/^Ok:/,/^Timeout:/p' "$1/meson-logs/testlog.txt" 2>/dev/null || true)
    n() { printf '%s\n' "$summary" | awk -v k="$1" '$1 == k":" {print $2}' | head -1; }
    ok=$(n Ok) fl=$(n Fail) sk=$(n Skipped) xp=$(n "Unexpected" ) to=$(n Timeout)
    [ -n "$ok" ] || { echo "no test summary in $log"; failed=$((failed + 1)); return; }
    up=$(printf '%s\n' "$summary" | awk '/^Unexpected Pass:/ {print $3}')
    passed=$((passed + ok)); failed=$((failed + fl + ${up:-0} + ${to:-0})); skipped=$((skipped + ${sk:-0}))
}

cmd=${1:-}
case "$cmd" in
demo)
    install_missing
    setup build-release --buildtype=release # not build/: test owns its options
    ninja -C build-release >/dev/null
    weave=./build-release/tools/weave
    echo "== the seed notes' three sites, forked, edited offline and merged"
    $weave script tests/scenarios/ctrlaltdel.wv
    echo "   (every expectation in tests/scenarios/ctrlaltdel.wv held)"
    echo "== a JSON document (a list of maps) edited by path at three sites, merged"
    { cat tests/scenarios/nesting.wv; echo "json a"; } | $weave script -
    echo "   (every expectation in tests/scenarios/nesting.wv held)"
    echo "== editing traces replayed as local edits, checked against their final text"
    traces=../shared/traces
    if [ -f "$traces/automerge-paper.json.gz" ]; then
        for t in automerge-paper seph-blog1 friendsforever_flat friendsforever; do
            $weave replay "$traces/$t.json.gz"
        done
    else
        echo "skipped: $root/$traces not found (the traces are read from there, never copied)"
    fi
    echo "== 8 sites edit offline at random, merge into one, and converge"
    $weave demo --sites 8 --edits 10000
    ;;
test)
    install_missing test
    # the browser test's playwright-core, pinned by tests/browser/package-lock.json
    lock=tests/browser/node_modules/.package-lock.json
    if [ ! -f "$lock" ] || [ tests/browser/package-lock.json -nt "$lock" ]; then
        (cd tests/browser && npm ci --no-audit --no-fund >/dev/null) \
            || echo "npm ci failed in tests/browser: the browser test will be skipped"
    fi
    passed=0 failed=0 skipped=0
    if setup build -Dwerror=true && ninja -C build; then run_suite build
    else echo "release build failed"; failed=$((failed + 1)); fi
    if setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
        && ninja -C build-asan; then
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 run_suite build-asan
    else echo "ASan+UBSan build failed"; failed=$((failed + 1)); fi
    echo "release and ASan+UBSan builds: every test run in both"
    if [ "${2:-}" = "--ci" ]; then
        # check NAME COMMAND...: one counted test
        check() {
            name=$1; shift
            if "$@"; then passed=$((passed + 1)); echo "ok   $name"
            else failed=$((failed + 1)); echo "FAIL $name"; fi
        }
        for k in 2 3 4 5 6 7 8; do
            check "fuzz: 3000 histories, $k sites (release)" \
                ./build/tools/weave fuzz --seeds 3000 --sites $k --ops 250 --first-seed $((k * 100000))
            check "fuzz: 300 histories, $k sites (ASan+UBSan)" \
                ./build-asan/tools/weave fuzz --seeds 300 --sites $k --ops 250 --first-seed $((k * 100000 + 50000))
        done
        clang_build() { CC=clang setup build-clang -Dwerror=true && ninja -C build-clang >/dev/null; }
        check "clang build of everything, warnings as errors" clang_build
        o3_build() { setup build-o3 --buildtype=release -Dwerror=true && ninja -C build-o3 >/dev/null; }
        check "gcc -O3 build of everything, warnings as errors" o3_build
        check "libFuzzer targets, ${WV_FUZZ_SECONDS:-90} s each" sh fuzz/run-libfuzzer.sh "${WV_FUZZ_SECONDS:-90}"
    fi
    if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"
    else echo "$passed passed, $failed failed"; fi
    [ "$failed" -eq 0 ]
    ;;
*)
    echo "usage: sh tools/dev.sh demo | test [--ci]" >&2
    exit 2
    ;;
esac
