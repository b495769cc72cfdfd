// Shared code of the peer harness (sizes.mjs, bench.mjs): trace loading, the
// code point -> UTF-16 conversion of sequential traces, the PRNG and char hash
// of bench/WORKLOADS.md, and one adapter per peer CRDT library giving every
// library the same small interface, each through its own natural API:
//
//   create(site)          a fresh, empty text document edited as `site`
//   applyTxn(h, patches)  one trace transaction (see prepare()) as local edits
//   insert(h, pos, s)     one local edit, its own transaction (index unit: the
//   remove(h, pos, n)       library's; callers only use these on BMP-only text)
//   text(h)               the current text
//   fork(h, site)         a copy that edits as `site`
//   clone(h)              a copy with the same site (a snapshot)
//   merge(dst, src)       bring dst up to date with src through the library's
//                         update exchange; returns the bytes that exchange sent
//   encodings[]           { name, save(h) -> Uint8Array, load(bytes, site) -> h };
//                         the first is the library's full-document encoding
//   free(h)
//
// Sites are small integers; each adapter maps them to its own id space (see
// the README). A library that is not installed is reported and left out.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = path.resolve(HERE, '..', '..');
export const DEFAULT_TRACES = path.resolve(PROJECT_ROOT, '..', 'shared', 'traces');
export const SEQUENTIAL_TRACES = ['automerge-paper', 'seph-blog1', 'friendsforever_flat'];

// A failed check or malformed input. Scripts catch it at top level, print the
// message and exit with status 1.
export class BenchError extends Error {}
export function fail(msg) { throw new BenchError(msg); }

export function pkgVersion(name) {
  try {
    const p = path.join(HERE, 'node_modules', ...name.split('/'), 'package.json');
    return JSON.parse(fs.readFileSync(p, 'utf8')).version;
  } catch {
    return null;
  }
}

// DIR/name.json.gz parsed, or null when the file is absent.
export function loadTrace(dir, name) {
  const file = path.join(dir, `${name}.json.gz`);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'));
}

// ---------------------------------------------------------------------------
// PRNG and char hash of WORKLOADS.md.

export function rng(seed) { return { s: seed >>> 0 }; }
export function next(st) {
  let z = (st.s = (st.s + 0x6D2B79F5) >>> 0);
  z = Math.imul(z ^ (z >>> 15), z | 1);
  z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
  return (z ^ (z >>> 14)) >>> 0;
}
export function below(st, n) { return next(st) % n; }

export const CHAR_HASH_MUL = 2654435761;
// Sum over code points of cp * 2654435761 mod 2^32, and the code point count.
export function charHash(s) {
  let h = 0, n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xDC00 && d < 0xE000) { c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00); i++; }
    }
    h = (h + Math.imul(c, CHAR_HASH_MUL)) >>> 0;
    n++;
  }
  return { hash: h, chars: n };
}

export const hasSurrogate = (s) => /[\uD800-\uDFFF]/.test(s);

// ---------------------------------------------------------------------------
// Trace preparation: code points -> UTF-16.
//
// We track the code-point positions of the astral characters (the ones that
// take two UTF-16 units) currently in the document, sorted. The UTF-16 offset
// of code-point position p is p + (number of astral chars before p). With no
// astral characters (the usual case) this is the identity and costs nothing.

function lowerBound(a, x) {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// Returns { txns: [[ [u16pos, u16del, ins, cpPos, cpDel], ... ], ...], patches, astralSeen, finalLen }
export function prepare(trace) {
  if (trace.startContent && trace.startContent !== '') fail('startContent is not empty');
  let astral = []; // sorted code-point positions of astral chars in the doc
  let len = 0;     // document length in code points
  let patches = 0, astralSeen = 0;
  const txns = trace.txns.map((txn, ti) => txn.patches.map(([pos, del, ins], pi) => {
    if (!(Number.isInteger(pos) && Number.isInteger(del) && typeof ins === 'string'))
      fail(`bad patch at txn ${ti} patch ${pi}`);
    if (pos < 0 || del < 0 || pos + del > len)
      fail(`patch out of range at txn ${ti} patch ${pi}: pos ${pos} del ${del} len ${len}`);
    patches++;
    const insAstral = hasSurrogate(ins);
    const insCps = insAstral ? [...ins] : null;
    const insLen = insAstral ? insCps.length : ins.length;
    let u16pos = pos, u16del = del;
    if (astral.length) {
      const a = lowerBound(astral, pos);
      const b = lowerBound(astral, pos + del);
      u16pos = pos + a;
      u16del = del + (b - a);
      // drop deleted astral chars, shift the ones after the edit
      const shift = insLen - del;
      const tail = astral.slice(b).map((p) => p + shift);
      astral = astral.slice(0, a);
      if (insAstral) {
        insCps.forEach((c, i) => { if (c.length === 2) astral.push(pos + i); });
        astralSeen++;
      }
      astral = astral.concat(tail);
    } else if (insAstral) {
      insCps.forEach((c, i) => { if (c.length === 2) astral.push(pos + i); });
      astralSeen++;
    }
    len += insLen - del;
    return [u16pos, u16del, ins, pos, del];
  }));
  return { txns, patches, astralSeen, finalLen: len };
}

// A tiny synthetic trace full of astral characters (the real traces have
// none), to check the conversion above through every library.
export const ASTRAL_TRACE = {
  startContent: '',
  txns: [
    { patches: [[0, 0, 'a😀b𝄞c']] },                        // a 😀 b 𝄞 c
    { patches: [[2, 0, 'X'], [4, 1, '🎉'], [0, 1, '']] },   // 😀 X b 🎉 c
    { patches: [[1, 1, 'é'], [4, 0, '𝄞𝄞']] },               // 😀 é b 🎉 𝄞 𝄞 c
    { patches: [[0, 2, 'Z'], [5, 1, '']] },                  // Z b 🎉 𝄞 𝄞
  ],
  endContent: 'Zb🎉𝄞𝄞',
};

// ---------------------------------------------------------------------------
// Peer adapters. Each is { lib, pkg, spec, unit, init(mod) -> adapter methods }.

const yjs = {
  lib: 'yjs', pkg: 'yjs', spec: 'yjs', unit: 'utf16',
  make(Y) {
    const create = (site) => {
      const doc = new Y.Doc();        // default gc: true
      doc.clientID = site;
      return { doc, text: doc.getText('text') };
    };
    // A copy or a loaded document keeps the random clientID of a new Y.Doc:
    // Yjs itself replaces a clientID that appears in an applied remote update.
    const load = (b, site, v2) => {
      const doc = new Y.Doc();
      if (site !== undefined) doc.clientID = site;
      const h = { doc, text: doc.getText('text') };
      if (v2) Y.applyUpdateV2(h.doc, b); else Y.applyUpdate(h.doc, b);
      return h;
    };
    return {
      create,
      applyTxn(h, txn) {
        const t = h.text;
        h.doc.transact(() => {
          for (const [pos, del, ins] of txn) {
            if (del) t.delete(pos, del);
            if (ins) t.insert(pos, ins);
          }
        });
      },
      insert(h, pos, s) { h.text.insert(pos, s); },
      remove(h, pos, n) { h.text.delete(pos, n); },
      text: (h) => h.text.toString(),
      fork: (h, site) => load(Y.encodeStateAsUpdate(h.doc), site),
      clone: (h) => load(Y.encodeStateAsUpdate(h.doc)),
      merge(dst, src) {
        const u = Y.encodeStateAsUpdate(src.doc, Y.encodeStateVector(dst.doc));
        Y.applyUpdate(dst.doc, u);
        return u.byteLength;
      },
      encodings: [
        { name: 'encodeStateAsUpdate (v1)', save: (h) => Y.encodeStateAsUpdate(h.doc), load: (b) => load(b) },
        { name: 'encodeStateAsUpdateV2', save: (h) => Y.encodeStateAsUpdateV2(h.doc), load: (b) => load(b, undefined, true) },
      ],
      free(h) { h.doc.destroy(); },
    };
  },
};

// Automerge actor ids are hex; site s -> the byte s repeated 16 times
// (site 1 -> "0101…01").
const amActor = (site) => (site & 0xff).toString(16).padStart(2, '0').repeat(16);

const automerge = {
  lib: 'automerge', pkg: '@automerge/automerge', spec: '@automerge/automerge', unit: 'utf16',
  make(A) {
    return {
      create: (site) => ({ doc: A.from({ text: '' }, { actor: amActor(site) }), site }),
      applyTxn(h, txn) {
        h.doc = A.change(h.doc, (d) => {
          for (const [pos, del, ins] of txn) A.splice(d, ['text'], pos, del, ins);
        });
      },
      insert(h, pos, s) { h.doc = A.change(h.doc, (d) => { A.splice(d, ['text'], pos, 0, s); }); },
      remove(h, pos, n) { h.doc = A.change(h.doc, (d) => { A.splice(d, ['text'], pos, n); }); },
      text: (h) => h.doc.text,
      fork: (h, site) => ({ doc: A.clone(h.doc, { actor: amActor(site) }), site }),
      clone: (h) => ({ doc: A.clone(h.doc, { actor: amActor(h.site) }), site: h.site }),
      // What Automerge.merge(dst, src) does (getChangesAdded + applyChanges),
      // spelled out to count the encoded changes src sends.
      merge(dst, src) {
        const changes = A.getBackend(dst.doc).getChangesAdded(A.getBackend(src.doc));
        let bytes = 0;
        for (const c of changes) bytes += c.byteLength;
        [dst.doc] = A.applyChanges(dst.doc, changes);
        return bytes;
      },
      encodings: [
        { name: 'save', save: (h) => A.save(h.doc), load: (b, site = 1) => ({ doc: A.load(b, { actor: amActor(site) }), site }) },
      ],
      free(h) { A.free(h.doc); },
    };
  },
};

const loro = {
  lib: 'loro', pkg: 'loro-crdt', spec: 'loro-crdt', unit: 'utf16',
  make(L) {
    const wrap = (doc) => ({ doc, text: doc.getText('text') });
    const create = (site) => {
      const doc = new L.LoroDoc();
      doc.setPeerId(site);
      return wrap(doc);
    };
    const fork = (h, site) => {
      const d = h.doc.fork();
      d.setPeerId(site);
      return wrap(d);
    };
    const load = (b, site = 1) => {
      const h = create(site);
      h.doc.import(b);
      return h;
    };
    return {
      create,
      applyTxn(h, txn) {           // LoroText indexes are UTF-16 in JS
        const t = h.text;
        for (const [pos, del, ins] of txn) {
          if (del) t.delete(pos, del);
          if (ins) t.insert(pos, ins);
        }
        h.doc.commit();
      },
      insert(h, pos, s) { h.text.insert(pos, s); h.doc.commit(); },
      remove(h, pos, n) { h.text.delete(pos, n); h.doc.commit(); },
      text: (h) => h.text.toString(),
      fork,
      clone: (h) => fork(h, h.doc.peerId),
      merge(dst, src) {
        const u = src.doc.export({ mode: 'update', from: dst.doc.oplogVersion() });
        dst.doc.import(u);
        return u.byteLength;
      },
      encodings: [
        { name: "export({mode: 'snapshot'})", save: (h) => h.doc.export({ mode: 'snapshot' }), load },
        // oplog only (no materialised state); informational
        { name: "export({mode: 'update'})", save: (h) => h.doc.export({ mode: 'update' }), load },
      ],
      free(h) { h.doc.free(); },
    };
  },
};

// diamond-types-node versions are local (per-document) version numbers, so
// "the receiver's version, in the sender's numbering" (what getPatchSince
// needs) is kept by bookkeeping: every document records, per other document,
// a version (in its own numbering) the other is known to hold. After dst
// merges src's patch, dst knows src's whole state (mergeBytes returns its
// frontier in dst's numbering) and src knows dst holds all of src. What
// others know of a document they also know of a copy of it. A copy
// (Doc.fromBytes of the parent's bytes) keeps the parent's numbering only
// when the parent's history is linear (one possible order; with concurrent
// histories the copy numbers ops differently, and the package has no
// remote -> local version conversion): then, and only then, the copy inherits
// the parent's own records, and what it learns while still unchanged is
// passed back to the parent. A document with no record for the other sends
// everything since the empty version. Too large a patch only costs bytes and
// time; too small a one would fail the merge or the text checks.
const diamond = {
  lib: 'diamond-types', pkg: 'diamond-types-node', spec: 'diamond-types-node', unit: 'cp',
  make(mod) {
    const dt = mod.default ?? mod;
    const EMPTY = new Uint32Array(0);
    const agent = (site) => `site${site}`;
    const live = new Map(); // id -> handle (documents not yet freed)
    let ids = 0;
    // linear: only local edits so far (created empty or copied from a linear
    // document), so the numbering is the only possible one.
    const wrap = (doc, site, linear, parent = null) => {
      const h = { doc, site, id: ++ids, known: new Map(), linear, parent, forkVersion: parent ? doc.getLocalVersion() : null };
      live.set(h.id, h);
      return h;
    };
    const sameVersion = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    // x now knows that y holds version v (in x's numbering).
    const learn = (x, y, v) => {
      x.known.set(y.id, v);
      for (let c = x; c.parent && live.has(c.parent.id) && sameVersion(c.doc.getLocalVersion(), c.forkVersion); c = c.parent) {
        const p = c.parent, old = p.known.get(y.id);
        p.known.set(y.id, old ? p.doc.mergeVersions(old, v) : v);
      }
    };
    const fork = (p, site) => {
      const c = wrap(dt.Doc.fromBytes(p.doc.toBytes(), agent(site)), site, p.linear, p.linear ? p : null);
      for (const x of live.values()) if (x.known.has(p.id)) x.known.set(c.id, x.known.get(p.id));
      if (p.linear) {
        const v = c.forkVersion;
        for (const [k, kv] of p.known) c.known.set(k, kv);
        c.known.set(p.id, v);
        p.known.set(c.id, v);
      }
      return c;
    };
    return {
      create: (site) => wrap(new dt.Doc(agent(site)), site, true),
      applyTxn(h, txn) {
        const d = h.doc;
        for (const [, , ins, pos, del] of txn) { // DT indexes are code points
          if (del) d.del(pos, del);
          if (ins) d.ins(pos, ins);
        }
      },
      insert(h, pos, s) { h.doc.ins(pos, s); },
      remove(h, pos, n) { h.doc.del(pos, n); },
      text: (h) => h.doc.get(),
      fork,
      clone: (h) => fork(h, h.site),
      merge(dst, src) {
        const patch = src.doc.getPatchSince(src.known.get(dst.id) ?? EMPTY);
        const before = dst.doc.getLocalVersion();
        const v = dst.doc.mergeBytes(patch);
        if (dst.linear && !sameVersion(before, dst.doc.getLocalVersion())) dst.linear = false;
        if (v.length) learn(dst, src, v);
        learn(src, dst, src.doc.getLocalVersion());
        return patch.byteLength;
      },
      encodings: [
        { name: 'toBytes', save: (h) => h.doc.toBytes(), load: (b, site = 1) => wrap(dt.Doc.fromBytes(b, agent(site)), site, false) },
      ],
      free(h) {
        h.doc.free();
        live.delete(h.id);
        for (const x of live.values()) {
          x.known.delete(h.id);
          if (x.parent === h) x.parent = null;
        }
      },
    };
  },
};

// json-joy session ids below 0x10000 are reserved: site s -> 0x10000 + s.
const jjSid = (site) => 0x10000 + site;

const jsonjoy = {
  lib: 'json-joy', pkg: 'json-joy', spec: 'json-joy/lib/json-crdt/index.js', unit: 'utf16',
  extra: ['json-joy/lib/json-crdt/delta/Delta.js'],
  make(jj, [deltaMod]) {
    const { Delta } = deltaMod;
    const wrap = (model) => ({ model, str: model.api.str([]) });
    return {
      create(site) {
        const model = jj.Model.create(undefined, jjSid(site));
        model.api.set('');
        model.api.flush();
        return wrap(model);
      },
      applyTxn(h, txn) {            // StrApi indexes are UTF-16
        const s = h.str;
        for (const [pos, del, ins] of txn) {
          if (del) s.del(pos, del);
          if (ins) s.ins(pos, ins);
        }
        h.model.api.flush();        // one json-crdt patch per transaction
      },
      insert(h, pos, s) { h.str.ins(pos, s); h.model.api.flush(); },
      remove(h, pos, n) { h.str.del(pos, n); h.model.api.flush(); },
      text: (h) => h.model.view(),
      fork: (h, site) => wrap(h.model.fork(jjSid(site))),
      clone: (h) => wrap(h.model.clone()),
      // Delta-state sync: the delta of src past dst's clock vector, as bytes.
      merge(dst, src) {
        const bytes = src.model.delta(dst.model.clock).toBinary();
        dst.model.applyDelta(Delta.from(bytes));
        return bytes.byteLength;
      },
      encodings: [
        { name: 'Model.toBinary', save: (h) => h.model.toBinary(), load: (b, site = 1) => wrap(jj.Model.load(b, jjSid(site))) },
      ],
      free() {},
    };
  },
};

export const ADAPTERS = [yjs, automerge, loro, diamond, jsonjoy];
export const PEER_NAMES = ADAPTERS.map((a) => a.lib);

// Loads the named peers (all by default). Returns [{ lib, pkg, unit, version,
// ...methods }]; a peer whose package cannot be imported is reported through
// onMissing(lib, reason) and left out.
export async function loadPeers(names = PEER_NAMES, onMissing = () => {}) {
  const out = [];
  for (const a of ADAPTERS) {
    if (!names.includes(a.lib)) continue;
    let mod, extra;
    try {
      mod = await import(a.spec);
      extra = await Promise.all((a.extra ?? []).map((s) => import(s)));
    } catch (e) {
      onMissing(a.lib, e.code ?? e.message);
      continue;
    }
    out.push({ lib: a.lib, pkg: a.pkg, unit: a.unit, version: pkgVersion(a.pkg), ...a.make(mod, extra) });
  }
  return out;
}

// A fresh document replaying a prepared sequential trace; returns the handle.
export function replay(peer, prep, site = 1) {
  const h = peer.create(site);
  for (const txn of prep.txns) peer.applyTxn(h, txn);
  return h;
}

// Checks the code-point -> UTF-16 conversion on ASTRAL_TRACE through a peer:
// the replayed text, every encoding's round trip, and a fork + merge.
export function selfCheck(peer) {
  const trace = ASTRAL_TRACE;
  const prep = prepare(trace);
  if (prep.finalLen !== [...trace.endContent].length) fail('self-check: length tracking broken');
  const h = replay(peer, prep);
  const got = peer.text(h);
  if (got !== trace.endContent)
    fail(`self-check: ${peer.lib} produced ${JSON.stringify(got)}, want ${JSON.stringify(trace.endContent)}`);
  for (const e of peer.encodings) {
    const d = e.load(e.save(h));
    const t = peer.text(d);
    peer.free(d);
    if (t !== trace.endContent)
      fail(`self-check: ${peer.lib} ${e.name} decodes to ${JSON.stringify(t)}, want ${JSON.stringify(trace.endContent)}`);
  }
  const f = peer.fork(h, 2);
  peer.insert(f, 0, 'q');
  peer.insert(h, peer.unit === 'cp' ? 5 : 8, 'w');
  peer.merge(h, f);
  peer.merge(f, h);
  const a = peer.text(h), b = peer.text(f);
  peer.free(h);
  peer.free(f);
  if (a !== 'qZb🎉𝄞𝄞w' || b !== a)
    fail(`self-check: ${peer.lib} fork/merge gave ${JSON.stringify(a)} and ${JSON.stringify(b)}`);
}

export function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export function fmtInt(n) { return Math.round(n).toLocaleString('en-US'); }
