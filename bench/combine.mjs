// bench/combine.mjs — one table per workload from weave-bench's JSON and
// bench/peers/bench.mjs's JSON, with peer/weave ratios (how many times
// weave is faster or smaller), plus gnuplot data for the cost-growth plot.
// Usage: node bench/combine.mjs WEAVE.json PEERS.json OUTDIR
// Writes OUTDIR/latest.md (also printed) and OUTDIR/growth.dat.
import { readFileSync, writeFileSync } from 'node:fs';

const [weavePath, peersPath, outDir] = process.argv.slice(2);
if (!weavePath || !peersPath || !outDir) {
  console.error('usage: node bench/combine.mjs WEAVE.json PEERS.json OUTDIR');
  process.exit(2);
}
const weave = JSON.parse(readFileSync(weavePath, 'utf8'));
const peers = JSON.parse(readFileSync(peersPath, 'utf8'));

// Per workload: the field naming a row, and the metrics compared (all "lower
// is better"): [weave field, label, peer field if it differs]. The peers'
// merge times include encoding and applying their updates, so weave's
// "through bytes" columns (delta encoded, then wv_apply_bytes) are the like
// for like; its in-memory wv_merge times are shown too.
const spec = {
  1: { title: 'Sequential traces: replay as local edits at one site', key: 'trace',
       metrics: [['replay_ms', 'replay ms'], ['bytes_per_edit', 'encoded bytes/edit'], ['load_ms', 'load ms'], ['save_ms', 'save ms']] },
  2: { title: 'The concurrent trace (friendsforever, 2 sites)', key: 'trace',
       metrics: [['replay_ms', 'replay ms']] },
  3: { title: 'Random edits and merging (N replicas x 10,000 edits)', key: 'replicas',
       metrics: [['edit_ms', 'edit ms'], ['merge_ms', 'merge ms (in memory)'], ['merge_bytes_ms', 'merge ms (through bytes)', 'merge_ms'],
                 ['exchange_ms', 'exchange ms (in memory)'], ['exchange_bytes_ms', 'exchange ms (through bytes)', 'exchange_ms'],
                 ['bytes_sent', 'bytes sent']] },
  4: { title: 'Merge throughput (two 1M-char weaves, p% concurrent)', key: 'p',
       metrics: [['merge_ms', 'merge ms'], ['load_ms', 'load ms'], ['save_ms', 'save ms']] },
  5: { title: 'Cost growth', key: 'n',
       metrics: [['insert_ns_per_op', 'insert ns/op'], ['merge_ns_per_atom', 'merge ns/atom']] },
};

const fmt = (v) => (v === undefined || v === null || Number.isNaN(v) ? '—'
  : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(3)).toString());
const ratio = (peer, ours) => (peer && ours ? `${fmt(peer / ours)}x` : '—');

const peerNames = [...new Set(peers.results.map((r) => r.peer))];
const out = [];
const problems = [];
out.push(`Latest run: ${weave.machine.date ?? ''} — ${weave.machine.nproc} cores (${weave.machine.cpu}), ` +
  `weave ${weave.weave_version} (${weave.machine.compiler}, ${weave.machine.build_type}); ` +
  `peers: ${Object.entries(peers.versions).map(([k, v]) => `${k} ${v}`).join(', ')} on node ${peers.node}. ` +
  `Medians of weave's ${weave.config.runs} runs; peers' runs as noted in bench/peers. ` +
  'Ratio = peer / weave: how many times faster (or smaller) weave is; below 1x, the peer leads.\n');

for (const [w, s] of Object.entries(spec)) {
  const ours = weave.results.filter((r) => r.workload === Number(w));
  if (!ours.length) continue;
  out.push(`### ${w}. ${s.title}\n`);
  for (const [metric, label, peerMetric = metric] of s.metrics) {
    const header = [s.key, `weave ${label}`, ...peerNames.flatMap((p) => [p, 'ratio'])];
    out.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i ? '---:' : '---')).join('|')}|`);
    for (const row of ours) {
      const cells = [row[s.key], fmt(row[metric])];
      for (const p of peerNames) {
        const theirs = peers.results.find((r) => r.workload === Number(w) && r.peer === p && String(r[s.key]) === String(row[s.key]));
        cells.push(theirs ? fmt(theirs[peerMetric]) : 'skipped', theirs ? ratio(theirs[peerMetric], row[metric]) : '');
        if (theirs && Number(w) === 3 && (theirs.final_len !== row.final_len || theirs.char_hash !== row.char_hash))
          problems.push(`workload 3, N=${row.replicas}: ${p} ends with length ${theirs.final_len} / hash ${theirs.char_hash}, weave ${row.final_len} / ${row.char_hash}`);
        if (theirs && theirs.ok === false) problems.push(`workload ${w} ${row[s.key]}: ${p} failed its own check`);
      }
      out.push(`| ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  if (Number(w) === 1 || Number(w) === 5) {
    out.push('Memory: weave retains ' + ours.map((r) => `${fmt(r.bytes_per_atom)} bytes/atom (${r[s.key]})`).join(', ') +
      ', index included; peers: RSS growth per edit or atom in bench/peers/results.\n');
  }
}
if (problems.length) {
  out.push('**Disagreements:**', ...problems.map((p) => `- ${p}`), '');
}
const md = out.join('\n');
writeFileSync(`${outDir}/latest.md`, md + '\n');
console.log(md);

// growth.dat: n, then per library: insert ns/op and bytes/atom (gnuplot reads '?' as missing)
const libs = ['weave', ...peerNames];
const lines = [`n ${libs.map((l) => `${l}_insert_ns ${l}_bytes_per_atom`).join(' ')}`];
for (const row of weave.results.filter((r) => r.workload === 5)) {
  const vals = [row.n];
  for (const l of libs) {
    const r = l === 'weave' ? row : peers.results.find((x) => x.workload === 5 && x.peer === l && Number(x.n) === Number(row.n));
    vals.push(r?.insert_ns_per_op ?? '?', r?.bytes_per_atom ?? r?.rss_bytes_per_atom ?? '?');
  }
  lines.push(vals.join(' '));
}
writeFileSync(`${outDir}/growth.dat`, lines.join('\n') + '\n');
if (problems.length) process.exitCode = 1;
