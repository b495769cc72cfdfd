#!/usr/bin/env node
// Encoded size of the final document in peer CRDT libraries, replaying the
// same sequential editing traces weave is measured on.
//
// Usage (from the project root):
//   (cd bench/peers && npm ci)          # once
//   node bench/peers/sizes.mjs [TRACES_DIR]
//
// TRACES_DIR defaults to ../shared/traces relative to the project root. The
// traces are read in place (never copied). A missing directory or trace file
// is skipped with a message. Writes a Markdown table to stdout and the same
// data as JSON to bench/peers/results/sizes.json.
//
// Every patch of every transaction is replayed as local edits at one site.
// Trace positions/counts are Unicode code points; each library is driven in
// its own index unit (UTF-16 code units for Yjs, Automerge, Loro and
// json-joy; code points for diamond-types), converted exactly. The final text
// must equal the trace's endContent or the run aborts with exit status 1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import {
  HERE, DEFAULT_TRACES, SEQUENTIAL_TRACES as TRACES, BenchError, loadTrace, loadPeers, prepare,
  replay, selfCheck,
} from './lib.mjs';

const RESULTS_JSON = path.join(HERE, 'results', 'sizes.json');

function die(msg) {
  console.error(`sizes.mjs: ${msg}`);
  process.exit(1);
}

// Yjs and Automerge are required; the other peers are measured when installed.
const REQUIRED = ['yjs', 'automerge'];
const PEERS = await loadPeers(undefined, (lib, why) => {
  if (REQUIRED.includes(lib)) die(`${lib} is not installed (${why}); run npm ci in bench/peers`);
  console.error(`sizes.mjs: ${lib} not available (${why}); skipping it`);
});

// Replays a prepared trace through a peer (timing the edits only), then
// encodes the document every way the peer offers (timing each encode) and
// keeps a closure that decodes the bytes into a fresh document (untimed), to
// make sure the measured encoding really holds the whole final text.
function measure(peer, prep) {
  const t0 = performance.now();
  const h = replay(peer, prep);
  const replayMs = performance.now() - t0;
  const encodings = peer.encodings.map((e) => {
    const t1 = performance.now();
    const out = e.save(h);
    const encodeMs = performance.now() - t1;
    return {
      encoding: e.name, bytes: out.byteLength, encodeMs,
      roundTrip: () => { const d = e.load(out); const t = peer.text(d); peer.free(d); return t; },
    };
  });
  return { text: peer.text(h), replayMs, encodings, done: () => peer.free(h) };
}

// ---------------------------------------------------------------------------

function fmtInt(n) { return n.toLocaleString('en-US'); }

function main() {
  const tracesDir = process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_TRACES;
  if (!fs.existsSync(tracesDir)) {
    console.log(`sizes.mjs: traces directory ${tracesDir} not found; skipping (nothing measured)`);
    return 0;
  }
  for (const peer of PEERS) selfCheck(peer);

  const versions = Object.fromEntries(PEERS.map((p) => [p.pkg, p.version]));
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, arch: os.arch(), memGiB: Math.round(os.totalmem() / 2 ** 30) },
    versions,
    notes: [
      'edits = number of patches in the trace; bytes/edit = encoded bytes / edits',
      'replayMs times the local edits only (not parsing, not encoding); single run, for information',
      'every encoding is decoded into a fresh document and its text checked against endContent',
      'Yjs with default gc: true and clientID 1; Automerge change timestamps are replay wall-clock (default)',
      "Loro 'snapshot' holds oplog + document state; Loro 'update' (oplog only) is shown for information",
    ],
    traces: [],
    skipped: [],
  };

  for (const name of TRACES) {
    const file = path.join(tracesDir, `${name}.json.gz`);
    if (!fs.existsSync(file)) {
      console.error(`sizes.mjs: ${file} not found; skipping ${name}`);
      out.skipped.push(name);
      continue;
    }
    const trace = loadTrace(tracesDir, name);
    const prep = prepare(trace);
    if (prep.finalLen !== [...trace.endContent].length)
      die(`${name}: trace length bookkeeping ${prep.finalLen} != endContent ${[...trace.endContent].length}`);
    const entry = {
      trace: name, txns: trace.txns.length, edits: prep.patches,
      finalChars: [...trace.endContent].length, finalUtf8Bytes: Buffer.byteLength(trace.endContent, 'utf8'),
      patchesWithAstral: prep.astralSeen, results: [],
    };
    for (const peer of PEERS) {
      const r = measure(peer, prep);
      const ok = r.text === trace.endContent;
      r.done();
      if (!ok) {
        let i = 0;
        while (i < r.text.length && r.text[i] === trace.endContent[i]) i++;
        die(`${name}: ${peer.lib} final text differs from endContent (lengths ${r.text.length} vs ${trace.endContent.length}, first difference at UTF-16 offset ${i})`);
      }
      for (const e of r.encodings) {
        if (e.roundTrip() !== trace.endContent)
          die(`${name}: ${peer.lib} ${e.encoding} does not decode back to endContent`);
        entry.results.push({
          lib: peer.lib, version: versions[peer.pkg], encoding: e.encoding,
          bytes: e.bytes, bytesPerEdit: +(e.bytes / prep.patches).toFixed(3),
          replayMs: Math.round(r.replayMs), encodeMs: +e.encodeMs.toFixed(1),
        });
      }
      console.error(`sizes.mjs: ${name} ${peer.lib} ok (${Math.round(r.replayMs)} ms)`);
    }
    out.traces.push(entry);
  }

  // Markdown
  const lines = [];
  lines.push(`Encoded size of the final document (${out.date.slice(0, 10)}, node ${out.node}, ${out.machine.cpus} cores)`);
  lines.push('');
  lines.push('| trace | edits | final chars | library | encoding | bytes | bytes/edit | replay ms |');
  lines.push('|---|---:|---:|---|---|---:|---:|---:|');
  for (const t of out.traces) {
    for (const r of t.results) {
      lines.push(`| ${t.trace} | ${fmtInt(t.edits)} | ${fmtInt(t.finalChars)} | ${r.lib} ${r.version} | \`${r.encoding}\` | ${fmtInt(r.bytes)} | ${r.bytesPerEdit.toFixed(2)} | ${fmtInt(r.replayMs)} |`);
    }
  }
  if (out.traces.length) {
    // Compact view: bytes per edit, one row per encoding, one column per trace.
    const rows = new Map();
    for (const t of out.traces) {
      for (const r of t.results) {
        const k = `${r.lib} \`${r.encoding}\``;
        if (!rows.has(k)) rows.set(k, {});
        rows.get(k)[t.trace] = r.bytesPerEdit.toFixed(2);
      }
    }
    lines.push('', 'Bytes per edit', '');
    lines.push(`| library / encoding | ${out.traces.map((t) => t.trace).join(' | ')} |`);
    lines.push(`|---|${out.traces.map(() => '---:').join('|')}|`);
    for (const [k, v] of rows) lines.push(`| ${k} | ${out.traces.map((t) => v[t.trace] ?? '—').join(' | ')} |`);
    lines.push(`| (final text alone, UTF-8) | ${out.traces.map((t) => (t.finalUtf8Bytes / t.edits).toFixed(2)).join(' | ')} |`);
  }
  if (out.skipped.length) lines.push('', `Skipped (trace file absent): ${out.skipped.join(', ')}`);
  console.log(lines.join('\n'));

  fs.mkdirSync(path.dirname(RESULTS_JSON), { recursive: true });
  fs.writeFileSync(RESULTS_JSON, JSON.stringify(out, null, 2) + '\n');
  console.error(`sizes.mjs: wrote ${path.relative(process.cwd(), RESULTS_JSON)}`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  if (e instanceof BenchError) die(e.message);
  throw e;
}
