#!/usr/bin/env node
// Workloads 1, 2, 3, 4 and 5 of bench/WORKLOADS.md for the peer CRDT
// libraries (Yjs, Automerge, Loro, diamond-types, json-joy), with the same
// data, seeds, order of PRNG calls and checks as weave's bench/bench.c.
//
// Usage (from the project root):
//   (cd bench/peers && npm ci)          # once
//   node bench/peers/bench.mjs [--runs R|PEER=R,...] [--only N[,N...]]
//        [--peers yjs,automerge,loro,diamond-types,json-joy] [--traces DIR]
//        [--json FILE] [--smoke] [--timeout S]
//
// Each measurement (one workload, one peer, one trace or size) runs in a
// fresh child process, `node --expose-gc --max-old-space-size=8192 bench.mjs
// --child JOB`, so that the RSS deltas are not disturbed by what earlier
// measurements left behind (WebAssembly memories never shrink) and a peer
// that is too slow can be stopped (--timeout, default 900 s per child; it is
// then reported as skipped). --smoke keeps everything in one process: it
// takes seconds and reports no memory figures. The parent prints one Markdown table per
// workload to stdout (progress to stderr) and, with --json, writes every row
// as JSON. Any failed check makes the exit status 1.
//
// Choices WORKLOADS.md leaves open are the ones bench/bench.c makes (see the
// README): random single-char inserts draw the position, then the char;
// workload 5's fork (site 2) is made before the timed inserts and makes
// n / 100 inserts with seed 23; sites as in bench.c.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

import {
  DEFAULT_TRACES, PEER_NAMES, BenchError, fail, loadTrace, loadPeers, prepare, replay, selfCheck,
  rng, below, charHash, hasSurrogate, median, fmtInt, pkgVersion, ADAPTERS,
} from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);
const W3_BASE_TRACE = 'automerge-paper';
const W2_TRACE = 'friendsforever';
const W4_PCTS = [1, 10, 50];
const W5_SIZES = [10000, 100000, 1000000];   // peers stop at 1M (weave goes on to 10M)
const W5_INSERTS = 10000;
const SMOKE_W2_TXNS = 2000;

// Built-in run counts for slow combinations (measured on a 2-core machine; a
// single run of each is given in the README), used unless --runs PEER=R is
// given and only when below the base count: { peer: { workload: runs |
// { param: runs } } }.
const SLOW_RUNS = {
  yjs: { 4: { '10%': 3, '50%': 1 } },
  automerge: { 1: { 'automerge-paper': 1, 'seph-blog1': 3 }, 2: 3, 3: { 8: 1 }, 4: { '1%': 3, '10%': 1 }, 5: { 1000000: 3 } },
  loro: { 2: 3, 4: { '10%': 3, '50%': 1 } },
  'diamond-types': { 2: 3 },
  'json-joy': { 3: { 8: 3 } },
};

// Combinations not run at full size: { peer: { pct: reason } }. The child
// timeout (--timeout) is the safety net for the rest.
const W4_INFEASIBLE = {
  automerge: {
    50: 'not feasible in reasonable time: the set-up alone is 500,000 single-insert Automerge.change calls on a 1M-char document, '
      + 'and at p = 10% one merge of the 50,000 concurrent changes already took about 31 s (set-up 71 s)',
  },
};

// ---------------------------------------------------------------------------
// Small helpers

const log = (msg) => process.stderr.write(`bench.mjs: ${msg}\n`);
const now = () => performance.now();
const gc = globalThis.gc ?? (() => {});
// RSS after full collections and a short pause (V8 returns freed pages to the
// system from background threads).
// Off in --smoke (all jobs share one process, so the numbers would mean
// nothing): RSS fields are then null.
const pause = new Int32Array(new SharedArrayBuffer(4));
let measureMemory = true;
function rssMB() {
  if (!measureMemory) return NaN;
  for (let i = 0; i < 3; i++) { gc(); Atomics.wait(pause, 0, 0, 30); }
  return process.memoryUsage.rss() / 2 ** 20;
}
const randChar = (st) => String.fromCharCode(97 + below(st, 26));
function randomString(seed, n) {
  const st = rng(seed);
  const parts = [];
  for (let i = 0; i < n; i += 4096) {
    let s = '';
    for (let j = i; j < Math.min(n, i + 4096); j++) s += randChar(st);
    parts.push(s);
  }
  return parts.join('');
}
// n random single-char inserts into a document of length len (pos, then char);
// returns the new length and the char hash of the inserted chars.
function randomInserts(peer, h, seed, n, len) {
  const st = rng(seed);
  let hash = 0;
  for (let i = 0; i < n; i++) {
    const pos = below(st, len + 1);
    const c = 97 + below(st, 26);
    hash = (hash + Math.imul(c, 2654435761)) >>> 0;
    peer.insert(h, pos, String.fromCharCode(c));
    len++;
  }
  return { len, hash };
}
function expectText(got, want, what) {
  if (got === want) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  fail(`${what}: text differs at UTF-16 offset ${i} (length ${got.length}, expected ${want.length})`);
}
function expectChars(text, chars, hash, what) {
  const h = charHash(text);
  if (h.chars !== chars || h.hash !== hash)
    fail(`${what}: ${h.chars} chars with char hash ${h.hash}; expected ${chars}, ${hash}`);
}
// Traces parsed once per process (the smoke run keeps every job in-process).
const traceCache = new Map();
function traceOf(dir, name) {
  const k = `${dir}/${name}`;
  if (!traceCache.has(k)) traceCache.set(k, loadTrace(dir, name));
  return traceCache.get(k);
}
// FNV-1a over UTF-16 units: an order-dependent digest to compare texts
// across processes.
function textDigest(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, '0');
}
const r2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);

// ---------------------------------------------------------------------------
// Workloads (run inside a child process). Each returns a row object.

function w1(peer, job) {
  const trace = traceOf(job.traces, job.trace);
  if (!trace) return { skipped: `trace ${job.trace} not found in ${job.traces}` };
  const prep = prepare(trace);
  const end = trace.endContent;
  const finalChars = [...end].length;
  if (prep.finalLen !== finalChars) fail(`${job.trace}: length bookkeeping ${prep.finalLen} != ${finalChars}`);
  const enc = peer.encodings[0];
  const replayMs = [], saveMs = [], loadMs = [];
  let rss = 0, rss0 = rssMB(), delta = 0, bytes = 0;
  for (let r = 0; r < job.runs; r++) {
    const t0 = now();
    const h = replay(peer, prep);
    replayMs.push(now() - t0);
    if (r === 0) { rss = rssMB(); delta = rss - rss0; }
    expectText(peer.text(h), end, `${job.trace}: ${peer.lib} replay`);
    const t1 = now();
    const buf = enc.save(h);
    const t2 = now();
    const d = enc.load(buf);
    const t = peer.text(d);          // some libraries decode lazily: read the text once
    const t3 = now();
    saveMs.push(t2 - t1); loadMs.push(t3 - t2);
    bytes = buf.byteLength;
    expectText(t, end, `${job.trace}: ${peer.lib} loaded document`);
    peer.free(d); peer.free(h);
  }
  const ms = median(replayMs);
  log(`1: ${job.trace} ${peer.lib}: replay ${ms.toFixed(1)} ms, text and loaded text match endContent`);
  return {
    trace: job.trace, edits: prep.patches, final_chars: finalChars,
    replay_ms: ms, edits_per_s: prep.patches / (ms / 1e3),
    rss_mb: rss, rss_delta_mb: delta, rss_bytes_per_edit: (delta * 2 ** 20) / prep.patches,
    encoding: enc.name, encoded_bytes: bytes, bytes_per_edit: bytes / prep.patches,
    save_ms: median(saveMs), load_ms: median(loadMs),
  };
}

function w2(peer, job) {
  const trace = traceOf(job.traces, W2_TRACE);
  if (!trace) return { skipped: `trace ${W2_TRACE} not found in ${job.traces}` };
  if (trace.kind !== 'concurrent' || !trace.txns.length) fail(`${W2_TRACE}: expected a non-empty concurrent trace`);
  // --smoke replays a prefix: its final text is checked against the other
  // peers' (the parent compares text digests), not against endContent.
  const prefix = job.txnLimit && job.txnLimit < trace.txns.length;
  const txns = prefix ? trace.txns.slice(0, job.txnLimit) : trace.txns, n = txns.length, na = trace.numAgents;
  const label = prefix ? `${W2_TRACE} (first ${fmtInt(n)} txns)` : W2_TRACE;
  // UTF-16 positions would need a per-branch conversion; the trace has no
  // astral character, so code points are UTF-16 units here.
  if (peer.unit !== 'cp' && (hasSurrogate(trace.endContent) || txns.some((t) => t.patches.some((p) => hasSurrogate(p[2])))))
    return { skipped: `${W2_TRACE} holds astral characters; per-branch UTF-16 conversion is not implemented` };
  // Who needs which snapshot: computed once, outside the timing (as bench.c).
  const prev = new Int32Array(n), seen = new Int32Array(na).fill(-1), refs0 = new Int32Array(n);
  let edits = 0;
  for (let j = 0; j < n; j++) {
    prev[j] = seen[txns[j].agent];
    seen[txns[j].agent] = j;
    edits += txns[j].patches.length;
  }
  const needs = (i, j) => txns[i].agent !== txns[j].agent || prev[j] !== i;
  for (let j = 0; j < n; j++) for (const i of txns[j].parents) if (needs(i, j)) refs0[i]++;
  let nsnap = 0;
  for (let j = 0; j < n; j++) nsnap += refs0[j] > 0;
  const patches = txns.map((t) => t.patches.map(([pos, del, ins]) => [pos, del, ins, pos, del]));

  const ms = [];
  let merges = 0, mergeBytes = 0, rss = 0, delta = 0, digest = null, finalChars = 0;
  const rss0 = rssMB();
  for (let r = 0; r < job.runs; r++) {
    const refs = refs0.slice();
    const snap = new Array(n).fill(null);
    // Every agent starts from a copy of one empty document (Automerge and
    // json-joy keep the text in an object made by a change, which concurrent
    // creations would not share; for the others this is a new document).
    const agent = [peer.create(1)];
    for (let a = 1; a < na; a++) agent.push(peer.fork(agent[0], a + 1));
    merges = 0; mergeBytes = 0;
    const t0 = now();
    for (let j = 0; j < n; j++) {
      const tx = txns[j];
      const d = agent[tx.agent];
      for (const i of tx.parents) {
        if (!needs(i, j)) continue;
        mergeBytes += peer.merge(d, snap[i]);
        merges++;
        if (--refs[i] === 0) { peer.free(snap[i]); snap[i] = null; }
      }
      peer.applyTxn(d, patches[j]);
      if (refs[j]) snap[j] = peer.clone(d);
    }
    ms.push(now() - t0);
    if (r === 0) { rss = rssMB(); delta = rss - rss0; }
    const fin = agent[txns[n - 1].agent];
    const text = peer.text(fin);
    if (!prefix) expectText(text, trace.endContent, `${W2_TRACE}: ${peer.lib}`);
    digest = textDigest(text);
    finalChars = charHash(text).chars;
    if (snap.some((x) => x)) fail(`${W2_TRACE}: snapshot left over`);
    if (r === 0) {
      for (const a of agent) {
        if (a === fin) continue;
        peer.merge(a, fin);
        peer.merge(fin, a);
        expectText(peer.text(a), peer.text(fin), `${W2_TRACE}: ${peer.lib} agents after a final exchange`);
      }
    }
    for (const a of agent) peer.free(a);
  }
  const m = median(ms);
  log(`2: ${label} ${peer.lib}: replay ${m.toFixed(1)} ms, ${merges} merges, ${prefix ? `text digest ${digest}` : 'text matches endContent'}`);
  return {
    trace: label, agents: na, txns: n, edits, merges, snapshots: nsnap, final_chars: finalChars, text_digest: digest,
    replay_ms: m, edits_per_s: edits / (m / 1e3), merge_bytes: mergeBytes,
    rss_mb: rss, rss_delta_mb: delta,
  };
}

// What workload 3 must produce, computed without any CRDT (as bench.c's
// oracle): each replica's visible chars as ids into one table of chars.
function w3Oracle(baseCps, nrep, edits) {
  const nbase = baseCps.length;
  const chars = new Uint32Array(nbase + nrep * edits);
  chars.set(baseCps);
  const deleted = new Uint8Array(chars.length);
  let nchars = nbase, inserts = 0, deletes = 0;
  const texts = [];
  const ids = new Uint32Array(nbase + edits);
  for (let i = 0; i < nrep; i++) {
    let n = nbase;
    for (let k = 0; k < nbase; k++) ids[k] = k;
    const st = rng(1000 + i);
    for (let e = 0; e < edits; e++) {
      if (n > 0 && below(st, 4) === 0) {
        const pos = below(st, n);
        deleted[ids[pos]] = 1;
        ids.copyWithin(pos, pos + 1, n);
        n--; deletes++;
      } else {
        const pos = below(st, n + 1);
        chars[nchars] = 97 + below(st, 26);
        ids.copyWithin(pos + 1, pos, n);
        ids[pos] = nchars++;
        n++; inserts++;
      }
    }
    const parts = [];
    for (let k = 0; k < n; k += 8192)
      parts.push(String.fromCodePoint(...Array.from(ids.subarray(k, Math.min(n, k + 8192)), (id) => chars[id])));
    texts.push(parts.join(''));
  }
  let distinct = 0, finalLen = 0, hash = 0;
  for (let id = 0; id < nchars; id++) {
    if (deleted[id]) distinct++;
    else { finalLen++; hash = (hash + Math.imul(chars[id], 2654435761)) >>> 0; }
  }
  if (finalLen !== nbase + inserts - distinct) fail('workload 3: oracle inconsistent');
  return { texts, inserts, deletes, distinct, finalLen, hash };
}

function w3(peer, job) {
  const trace = traceOf(job.traces, W3_BASE_TRACE);
  if (!trace) return { skipped: `workload 3 needs ${W3_BASE_TRACE}'s endContent (not found in ${job.traces})` };
  const cps = [...trace.endContent];
  const baseArr = cps.slice(0, Math.floor(cps.length / 2));
  const base = baseArr.join(''), nbase = baseArr.length;
  if (peer.unit !== 'cp' && hasSurrogate(base)) return { skipped: 'base text holds astral characters' };
  const nrep = job.replicas, edits = job.edits;
  const x = w3Oracle(baseArr.map((c) => c.codePointAt(0)), nrep, edits);
  const editMs = [], mergeMs = [], exchMs = [];
  let mergeBytes = 0, exchBytes = 0, rss = 0, delta = 0, finalLen = 0, hash = 0;
  const rss0 = rssMB();
  for (let r = 0; r < job.runs; r++) {
    const b = peer.create(1);
    peer.insert(b, 0, base);
    const rep = [];
    for (let i = 0; i < nrep; i++) rep.push(peer.fork(b, i + 2));
    peer.free(b);

    const t0 = now();
    for (let i = 0; i < nrep; i++) {
      const d = rep[i];
      const st = rng(1000 + i);
      let len = nbase;
      for (let e = 0; e < edits; e++) {
        if (len > 0 && below(st, 4) === 0) {
          peer.remove(d, below(st, len), 1);
          len--;
        } else {
          const pos = below(st, len + 1);
          peer.insert(d, pos, randChar(st));
          len++;
        }
      }
    }
    editMs.push(now() - t0);
    for (let i = 0; i < nrep; i++)
      expectText(peer.text(rep[i]), x.texts[i], `workload 3 (N=${nrep}): ${peer.lib} replica ${i} after its edits`);

    mergeBytes = 0; exchBytes = 0;
    const t1 = now();
    for (let i = 1; i < nrep; i++) mergeBytes += peer.merge(rep[0], rep[i]);
    const t2 = now();
    for (let i = 1; i < nrep; i++) exchBytes += peer.merge(rep[i], rep[0]);
    const t3 = now();
    mergeMs.push(t2 - t1); exchMs.push(t3 - t2);

    const text = peer.text(rep[0]);
    for (let i = 1; i < nrep; i++)
      expectText(peer.text(rep[i]), text, `workload 3 (N=${nrep}): ${peer.lib} replica ${i} vs replica 0`);
    ({ chars: finalLen, hash } = charHash(text));
    if (finalLen !== x.finalLen || hash !== x.hash)
      fail(`workload 3 (N=${nrep}): ${peer.lib} final length ${finalLen}, char hash ${hash}; expected ${x.finalLen}, ${x.hash}`);
    if (r === 0) { rss = rssMB(); delta = rss - rss0; }
    for (const d of rep) peer.free(d);
  }
  log(`3: N=${nrep} ${peer.lib}: ${nrep} replicas converge; final length ${finalLen} = ${nbase} + ${x.inserts} inserts - ${x.distinct} distinct deleted; char hash ${hash}`);
  return {
    replicas: nrep, edits_per_replica: edits, base_chars: nbase, inserts: x.inserts, deletes: x.deletes,
    distinct_deleted: x.distinct, final_len: finalLen, char_hash: hash,
    edit_ms: median(editMs), merge_ms: median(mergeMs), exchange_ms: median(exchMs),
    merge_bytes: mergeBytes, exchange_bytes: exchBytes, bytes_sent: mergeBytes + exchBytes,
    rss_mb: rss, rss_delta_mb: delta,
  };
}

function w4(peer, job) {
  const n = job.base, k = (job.pct * n) / 200;
  const base = randomString(7, n);
  const hbase = charHash(base).hash;
  const enc = peer.encodings[0];
  const rss0 = rssMB();
  const t0 = now();
  const a = peer.create(1);
  peer.insert(a, 0, base);
  const b = peer.fork(a, 2);
  const ia = randomInserts(peer, a, 11, k, n);
  const ib = randomInserts(peer, b, 13, k, n);
  const hash = (hbase + ia.hash + ib.hash) >>> 0;
  log(`4: p=${job.pct}% ${peer.lib}: set-up (base, fork, ${fmtInt(k)} inserts per side) ${((now() - t0) / 1e3).toFixed(1)} s`);
  const mergeMs = [];
  let m = null, mergeBytes = 0, text = null;
  for (let r = 0; r < job.runs; r++) {
    if (m) peer.free(m);
    m = peer.clone(a);
    const t1 = now();
    mergeBytes = peer.merge(m, b);
    mergeMs.push(now() - t1);
    if (r === 0) {
      text = peer.text(m);
      expectChars(text, n + 2 * k, hash, `workload 4: ${peer.lib} merged`);
      const other = peer.clone(b);
      peer.merge(other, a);
      expectText(peer.text(other), text, `workload 4: ${peer.lib} merge(A, B) vs merge(B, A)`);
      peer.free(other);
    }
  }
  const saveMs = [], loadMs = [];
  let bytes = 0;
  for (let r = 0; r < job.runs; r++) {
    const t1 = now();
    const buf = enc.save(m);
    const t2 = now();
    const d = enc.load(buf);
    const t = peer.text(d);
    const t3 = now();
    saveMs.push(t2 - t1); loadMs.push(t3 - t2);
    bytes = buf.byteLength;
    expectText(t, text, `workload 4: ${peer.lib} loaded vs merged`);
    peer.free(d);
  }
  const rss = rssMB();
  const atoms = n + 2 * k, ms = median(mergeMs), sms = median(saveMs), lms = median(loadMs);
  log(`4: p=${job.pct}% ${peer.lib}: merge ${ms.toFixed(2)} ms; merged text, both merge orders and load check`);
  peer.free(m); peer.free(a); peer.free(b);
  return {
    p: `${job.pct}%`, base_chars: n, inserts_per_side: k, atoms, merge_ms: ms, atoms_per_s: atoms / (ms / 1e3),
    merge_bytes: mergeBytes, encoding: enc.name, encoded_bytes: bytes,
    save_ms: sms, save_mb_per_s: bytes / 1e6 / (sms / 1e3), load_ms: lms, load_mb_per_s: bytes / 1e6 / (lms / 1e3),
    rss_mb: rss, rss_delta_mb: rss - rss0,
  };
}

function w5(peer, job) {
  const n = job.n;
  // The n-char document, appended in runs of 100 (seed 17); its RSS delta.
  const rss0 = rssMB();
  const t0 = now();
  const base = peer.create(1);
  const st = rng(17);
  let hash = 0;
  for (let done = 0; done < n;) {
    const m = Math.min(100, n - done);
    let s = '';
    for (let i = 0; i < m; i++) {
      const c = 97 + below(st, 26);
      hash = (hash + Math.imul(c, 2654435761)) >>> 0;
      s += String.fromCharCode(c);
    }
    peer.insert(base, done, s);
    done += m;
  }
  const buildMs = now() - t0;
  const rss = rssMB(), delta = rss - rss0;
  // The fork and its 1% concurrent inserts (seed 23).
  const fork = peer.fork(base, 2);
  const nfork = n / 100;
  const hfork = randomInserts(peer, fork, 23, nfork, n).hash;
  const insMs = [], mergeMs = [];
  let d = null, mergeBytes = 0;
  for (let r = 0; r < job.runs; r++) {
    if (d) peer.free(d);
    d = peer.clone(base);
    const t1 = now();
    const hins = randomInserts(peer, d, 19, W5_INSERTS, n).hash;
    const t2 = now();
    mergeBytes = peer.merge(d, fork);
    const t3 = now();
    insMs.push(t2 - t1); mergeMs.push(t3 - t2);
    if (r === 0) {
      const text = peer.text(d);
      expectChars(text, n + W5_INSERTS + nfork, (hash + hins + hfork) >>> 0, `workload 5: ${peer.lib} merged`);
      const other = peer.clone(fork);
      peer.merge(other, d);
      expectText(peer.text(other), text, `workload 5: ${peer.lib} doc <- fork vs fork <- doc`);
      peer.free(other);
    }
  }
  const atoms = n + W5_INSERTS + nfork, mms = median(mergeMs);
  log(`5: n=${n} ${peer.lib}: build ${buildMs.toFixed(0)} ms, merge ${mms.toFixed(2)} ms; merged text and both merge orders check`);
  peer.free(d); peer.free(fork); peer.free(base);
  return {
    n, build_ms: buildMs, inserts: W5_INSERTS, insert_ns_per_op: (median(insMs) * 1e6) / W5_INSERTS,
    fork_inserts: nfork, merge_ms: mms, merge_ns_per_atom: (mms * 1e6) / atoms, atoms, merge_bytes: mergeBytes,
    bytes_per_atom: (delta * 2 ** 20) / n, rss_mb: rss, rss_delta_mb: delta,
  };
}

const WORK = { 1: w1, 2: w2, 3: w3, 4: w4, 5: w5 };

const peerCache = new Map();
async function child(job) {
  if (!peerCache.has(job.peer)) {
    let missing = null;
    const [p] = await loadPeers([job.peer], (lib, why) => { missing = why; });
    if (p) selfCheck(p);
    peerCache.set(job.peer, p ?? { missing });
  }
  const p = peerCache.get(job.peer);
  if (p.missing !== undefined) return { skipped: `${job.peer} is not installed (${p.missing})` };
  return WORK[job.w](p, job);
}

// --smoke: every job in this process (no RSS isolation; a few seconds).
async function runInProcess(job) {
  const t0 = now();
  try {
    const r = await child(job);
    return { ...(r.skipped ? r : { row: r }), secs: (now() - t0) / 1e3 };
  } catch (e) {
    return { error: e instanceof BenchError ? e.message : (e?.stack ?? String(e)), secs: (now() - t0) / 1e3 };
  }
}

// ---------------------------------------------------------------------------
// Parent: plan, run children, print tables.

const COLUMNS = {
  1: { title: 'Sequential traces', key: 'trace', cols: ['trace', 'peer', 'runs', 'edits', 'final_chars', 'replay_ms', 'edits_per_s', 'rss_mb', 'rss_delta_mb', 'rss_bytes_per_edit', 'encoded_bytes', 'bytes_per_edit', 'save_ms', 'load_ms'] },
  2: { title: 'The concurrent trace', key: 'trace', cols: ['trace', 'peer', 'runs', 'agents', 'txns', 'edits', 'merges', 'snapshots', 'replay_ms', 'edits_per_s', 'merge_bytes', 'final_chars', 'text_digest', 'rss_mb', 'rss_delta_mb'] },
  3: { title: 'Random edits and merging', key: 'replicas', cols: ['replicas', 'peer', 'runs', 'edits_per_replica', 'base_chars', 'inserts', 'deletes', 'distinct_deleted', 'final_len', 'char_hash', 'edit_ms', 'merge_ms', 'exchange_ms', 'merge_bytes', 'exchange_bytes', 'bytes_sent', 'rss_mb', 'rss_delta_mb'] },
  4: { title: 'Merge throughput', key: 'p', cols: ['p', 'peer', 'runs', 'base_chars', 'inserts_per_side', 'atoms', 'merge_ms', 'atoms_per_s', 'merge_bytes', 'encoded_bytes', 'save_ms', 'save_mb_per_s', 'load_ms', 'load_mb_per_s', 'rss_mb'] },
  5: { title: 'Cost growth', key: 'n', cols: ['n', 'peer', 'runs', 'build_ms', 'inserts', 'insert_ns_per_op', 'fork_inserts', 'merge_ms', 'merge_ns_per_atom', 'atoms', 'merge_bytes', 'bytes_per_atom', 'rss_mb'] },
};
const INT_COLS = new Set(['runs', 'edits', 'final_chars', 'edits_per_s', 'encoded_bytes', 'agents', 'txns', 'merges', 'snapshots', 'merge_bytes', 'replicas', 'edits_per_replica', 'base_chars', 'inserts', 'deletes', 'distinct_deleted', 'final_len', 'char_hash', 'exchange_bytes', 'bytes_sent', 'inserts_per_side', 'atoms', 'atoms_per_s', 'n', 'fork_inserts', 'insert_ns_per_op']);
const PREC = { bytes_per_edit: 2, rss_bytes_per_edit: 1, bytes_per_atom: 1, rss_mb: 1, rss_delta_mb: 1, merge_ns_per_atom: 1, save_mb_per_s: 0, load_mb_per_s: 0 };

function fmtCell(k, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (k === 'char_hash') return String(v);
  if (INT_COLS.has(k)) return fmtInt(v);
  const p = PREC[k] ?? 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: p, maximumFractionDigits: p });
}

function usage(msg) {
  if (msg) log(msg);
  process.stderr.write('usage: node bench/peers/bench.mjs [--runs R|PEER=R,...] [--only N[,N...]] [--peers LIST] [--traces DIR] [--json FILE] [--smoke] [--timeout S]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { runs: null, peerRuns: {}, only: null, peers: PEER_NAMES, traces: DEFAULT_TRACES, json: null, smoke: false, timeout: 900 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--smoke') o.smoke = true;
    else if (a === '--runs') {
      for (const part of v().split(',')) {
        const m = /^(?:([a-z-]+)=)?(\d+)$/.exec(part);
        if (!m || +m[2] < 1) usage(`bad --runs ${part}`);
        if (m[1]) {
          if (!PEER_NAMES.includes(m[1])) usage(`unknown peer ${m[1]}`);
          o.peerRuns[m[1]] = +m[2];
        } else o.runs = +m[2];
      }
    } else if (a === '--only') {
      o.only = v().split(',').map(Number);
      if (o.only.some((w) => !WORK[w])) usage('--only takes workload numbers 1-5');
    } else if (a === '--peers') {
      o.peers = v().split(',');
      for (const p of o.peers) if (!PEER_NAMES.includes(p)) usage(`unknown peer ${p} (peers: ${PEER_NAMES.join(', ')})`);
    } else if (a === '--traces') o.traces = path.resolve(v());
    else if (a === '--json') o.json = path.resolve(v());
    else if (a === '--timeout') o.timeout = +v();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

function runsFor(o, peer, w, param) {
  if (o.peerRuns[peer]) return { runs: o.peerRuns[peer], why: null };
  const base = o.runs ?? (o.smoke ? 1 : 5);
  let slow = SLOW_RUNS[peer]?.[w];
  if (slow && typeof slow === 'object') slow = slow[param];
  if (slow && slow < base) return { runs: slow, why: `${peer} defaults to ${slow} run${slow > 1 ? 's' : ''} here (slow); --runs ${peer}=R overrides` };
  return { runs: base, why: null };
}

function plan(o) {
  const jobs = [];
  const add = (w, param, extra) => {
    for (const peer of o.peers) {
      const { runs, why } = runsFor(o, peer, w, param);
      jobs.push({ w, peer, param, runs, runsNote: why, traces: o.traces, ...extra });
    }
  };
  const want = (w) => !o.only || o.only.includes(w);
  if (want(1)) for (const t of o.smoke ? ['friendsforever_flat'] : ['automerge-paper', 'seph-blog1', 'friendsforever_flat']) add(1, t, { trace: t });
  if (want(2)) add(2, W2_TRACE, o.smoke ? { txnLimit: SMOKE_W2_TXNS } : {});
  if (want(3)) for (const N of [2, 8]) add(3, N, { replicas: N, edits: o.smoke ? 500 : 10000 });
  if (want(4)) for (const pct of W4_PCTS) add(4, `${pct}%`, { pct, base: o.smoke ? 10000 : 1000000 });
  if (want(5)) for (const n of o.smoke ? [10000] : W5_SIZES) add(5, n, { n });
  return jobs;
}

function runChild(job, timeoutS) {
  const t0 = now();
  const res = spawnSync(process.execPath,
    ['--expose-gc', '--max-old-space-size=8192', SELF, '--child', JSON.stringify(job)],
    { stdio: ['ignore', 'pipe', 'inherit'], timeout: timeoutS * 1e3, killSignal: 'SIGKILL', maxBuffer: 1 << 24 });
  const secs = (now() - t0) / 1e3;
  if (res.error?.code === 'ETIMEDOUT' || (res.signal === 'SIGKILL' && secs >= timeoutS))
    return { skipped: `did not finish within the ${timeoutS} s limit per measurement`, secs };
  const out = res.stdout.toString().trim().split('\n').pop() || '';
  let r = null;
  try { r = JSON.parse(out); } catch { /* below */ }
  if (!r) return { error: `child exited with status ${res.status}${res.signal ? ` (${res.signal})` : ''} and no result`, secs };
  return { ...r, secs };
}

function printTable(w, rows, skips) {
  const spec = COLUMNS[w];
  const lines = [`### ${w}. ${spec.title}`, ''];
  if (rows.length) {
    lines.push(`| ${spec.cols.join(' | ')} |`);
    lines.push(`|${spec.cols.map((c) => (c === 'trace' || c === 'peer' || c === 'p' ? '---' : '---:')).join('|')}|`);
    for (const r of rows) lines.push(`| ${spec.cols.map((c) => fmtCell(c, c === 'peer' ? `${r.peer} ${r.version}` : r[c])).join(' | ')} |`);
    lines.push('');
  }
  for (const s of skips) lines.push(`_skipped: ${s.peer}, ${spec.key} ${s.param}: ${s.reason}_  `);
  if (skips.length) lines.push('');
  console.log(lines.join('\n'));
}

async function parent(o) {
  const t0 = now();
  if (o.smoke) measureMemory = false;
  if (!fs.existsSync(o.traces)) log(`traces directory ${o.traces} not found: workloads 1-3 will be skipped`);
  const versions = Object.fromEntries(ADAPTERS.filter((a) => o.peers.includes(a.lib)).map((a) => [a.lib, pkgVersion(a.pkg)]));
  const jobs = plan(o);
  console.log(`# peers bench${o.smoke ? ' (smoke)' : ''}\n\nnode ${process.version}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}; median of ${o.runs ?? (o.smoke ? 1 : 5)} runs unless the runs column says otherwise; times in ms\n`);
  const results = [], skipped = [], errors = [], notes = new Set();
  let cur = null, rows = [], skips = [];
  const flush = () => { if (cur !== null) printTable(cur, rows, skips); rows = []; skips = []; };
  for (const job of jobs) {
    if (job.w !== cur) { flush(); cur = job.w; }
    let r;
    if (job.w === 4 && !o.smoke && W4_INFEASIBLE[job.peer]?.[job.pct]) r = { skipped: W4_INFEASIBLE[job.peer][job.pct], secs: 0 };
    else if (job.w <= 3 && !fs.existsSync(o.traces)) r = { skipped: `traces directory ${o.traces} not found`, secs: 0 };
    else {
      log(`workload ${job.w}, ${job.peer}, ${COLUMNS[job.w].key} ${job.param}: ${job.runs} run${job.runs > 1 ? 's' : ''}…`);
      r = o.smoke ? await runInProcess(job) : runChild(job, o.timeout);
    }
    const id = { workload: job.w, table: COLUMNS[job.w].title, peer: job.peer, version: versions[job.peer] };
    if (r.error) {
      log(`FAILED: workload ${job.w}, ${job.peer}, ${job.param}: ${r.error}`);
      errors.push({ ...id, param: job.param, error: r.error });
      results.push({ ...id, [COLUMNS[job.w].key]: job.param, ok: false, error: r.error });
    } else if (r.skipped) {
      log(`skipped: workload ${job.w}, ${job.peer}, ${job.param}: ${r.skipped}`);
      skipped.push({ ...id, param: job.param, reason: r.skipped });
      skips.push({ peer: job.peer, param: job.param, reason: r.skipped });
      results.push({ ...id, [COLUMNS[job.w].key]: job.param, ok: null, skipped: r.skipped });
    } else {
      if (job.runsNote) notes.add(`workload ${job.w}, ${COLUMNS[job.w].key} ${job.param}: ${job.runsNote}`);
      const row = { ...id, runs: job.runs, ...Object.fromEntries(Object.entries(r.row).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? r2(v) : v])), child_s: r2(r.secs), ok: true };
      results.push(row);
      rows.push(row);
    }
  }
  flush();
  // Workload 2: every peer must reach the same text (the only check of a
  // --smoke prefix; with the whole trace each already matched endContent).
  const w2 = results.filter((r) => r.workload === 2 && r.ok);
  if (new Set(w2.map((r) => r.text_digest)).size > 1) {
    const error = `workload 2: the peers' final texts differ (${w2.map((r) => `${r.peer} ${r.text_digest}`).join(', ')})`;
    log(`FAILED: ${error}`);
    errors.push({ workload: 2, error });
  }
  const total = now() - t0;
  if (notes.size) console.log(['Run counts below the default:', '', ...[...notes].map((n) => `- ${n}`), ''].join('\n'));
  console.log(`Total: ${(total / 1e3).toFixed(1)} s; ${errors.length ? `${errors.length} FAILED` : 'all results checked'}.`);
  if (o.json) {
    const out = {
      tool: 'bench/peers/bench.mjs', date: new Date().toISOString(), node: process.version,
      machine: { nproc: os.cpus().length, cpu: os.cpus()[0]?.model ?? null, arch: os.arch(), memGiB: Math.round(os.totalmem() / 2 ** 30) },
      versions,
      config: { runs: o.runs ?? (o.smoke ? 1 : 5), peerRuns: o.peerRuns, smoke: o.smoke, only: o.only, peers: o.peers, traces: o.traces, timeout_s: o.timeout },
      total_ms: r2(total), run_notes: [...notes], skipped, errors, results,
    };
    fs.mkdirSync(path.dirname(o.json), { recursive: true });
    fs.writeFileSync(o.json, JSON.stringify(out, null, 2) + '\n');
    log(`wrote ${path.relative(process.cwd(), o.json)}`);
  }
  return errors.length ? 1 : 0;
}

// ---------------------------------------------------------------------------

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  try {
    const r = await child(JSON.parse(argv[1]));
    process.stdout.write(JSON.stringify(r.skipped ? r : { row: r }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: e instanceof BenchError ? e.message : (e?.stack ?? String(e)) }) + '\n');
  }
} else {
  process.exitCode = await parent(parseArgs(argv));
}
