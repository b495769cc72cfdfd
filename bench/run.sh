#!/bin/sh
# bench/run.sh — the benchmark suite, weave and its peers back to back.
#
#   sh bench/run.sh            full run (15–50 minutes, by the machine: Automerge is slow)
#   sh bench/run.sh --quick    weave in full, peers on workloads 1 and 3 only
#
# Installs what is missing (Debian: meson, gcc, zlib, xxhash, mimalloc,
# nodejs, npm, gnuplot-nox, hyperfine; npm ci in bench/peers), builds weave in
# release mode (build-release/), runs weave-bench and bench/peers/bench.mjs on
# the workloads of bench/WORKLOADS.md with the same seeds, times whole
# processes with hyperfine, and writes bench/results/: weave.json, peers.json,
# hyperfine.md, latest.md (one table per workload with peer/weave ratios,
# also printed) and growth.png (to $WV_BENCH_OUT instead when set). Every run checks its own results; a wrong
# answer fails the run. The traces are read from ../shared/traces.
set -eu
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
out=${WV_BENCH_OUT:-bench/results}
mkdir -p "$out"

missing=""
for p in meson ninja-build gcc pkg-config libxxhash-dev libzstd-dev libmimalloc-dev zlib1g-dev nodejs npm gnuplot-nox hyperfine; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm may come from elsewhere than Debian's packages
command -v node >/dev/null 2>&1 && missing=$(printf '%s' "$missing" | sed 's/ nodejs//')
command -v npm >/dev/null 2>&1 && missing=$(printf '%s' "$missing" | sed 's/ npm//')
if [ -n "$missing" ]; then
    echo "installing:$missing"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
[ -d bench/peers/node_modules ] || (cd bench/peers && npm ci --no-audit --no-fund >/dev/null)

build=build-release
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null

echo "== weave (bench/bench.c)"
"$build/bench/weave-bench" --json "$out/weave.json" > "$out/weave.md"
tail -n 3 "$out/weave.md"
echo "== peers (bench/peers/bench.mjs)"
if [ $quick -eq 1 ]; then
    node --expose-gc bench/peers/bench.mjs --only 1 --json "$out/peers-1.json" > /dev/null
    node --expose-gc bench/peers/bench.mjs --only 3 --json "$out/peers-3.json" > /dev/null
    node -e 'const fs=require("fs"); const [a,b]=process.argv.slice(1, 3).map(f=>JSON.parse(fs.readFileSync(f)));
             a.results=a.results.concat(b.results); fs.writeFileSync(process.argv[3], JSON.stringify(a,null,1));' \
        "$out/peers-1.json" "$out/peers-3.json" "$out/peers.json"
    rm -f "$out/peers-1.json" "$out/peers-3.json"
else
    node --expose-gc bench/peers/bench.mjs --json "$out/peers.json" > "$out/peers.md"
fi

echo "== whole processes (hyperfine): the three sequential traces replayed and checked"
traces=../shared/traces
if [ -f "$traces/automerge-paper.json.gz" ]; then
    seq_traces="$traces/automerge-paper.json.gz $traces/seph-blog1.json.gz $traces/friendsforever_flat.json.gz"
    # the fastest peers only: Automerge, Yjs and Loro take seconds per run
    hyperfine --warmup 1 --runs 5 --export-markdown "$out/hyperfine.md" \
        -n weave "for t in $seq_traces; do $build/tools/weave replay \$t >/dev/null; done" \
        -n diamond-types "node --expose-gc bench/peers/bench.mjs --only 1 --peers diamond-types --runs 1 --traces $traces" \
        -n json-joy "node --expose-gc bench/peers/bench.mjs --only 1 --peers json-joy --runs 1 --traces $traces" >/dev/null
    cat "$out/hyperfine.md"
else
    echo "skipped: $traces not found"
fi

node bench/combine.mjs "$out/weave.json" "$out/peers.json" "$out"
gnuplot -e "dir='$out'" bench/growth.gp 2>/dev/null && echo "plot: $out/growth.png"
