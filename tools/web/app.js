// app.js — the page of `weave serve`: one panel per site replica.
//
// Protocol (see tools/panel.h): every request about a panel carries the
// textarea's whole text, the token of the server text it was typed on
// (`base`) and the selection, in code points. The server turns the text
// into inserts and deletes at the panel's site, syncs, and answers with the
// text now, its token, the token of the text we sent, and our selection
// mapped through whatever it merged. One request per panel is in flight at a
// time; typing meanwhile is sent next, typed on the text we sent.
'use strict';

const DOC = new URLSearchParams(location.search).get('doc');
const POLL_MS = 400;
const PALETTE = ['#a6cee3', '#b2df8a', '#fdbf6f', '#cab2d6', '#fb9a99', '#ffff99', '#8dd3c7', '#d9d9d9'];
const panels = new Map(); // site -> Panel
let docName = DOC;
const sites = new Set();

// ---- code points vs UTF-16 --------------------------------------------------

function cpCount(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
const unitsToCp = (s, u) => cpCount(s.slice(0, u));
function cpToUnits(s, cp) {
  let i = 0;
  for (let k = 0; k < cp && i < s.length; k++) i += s.codePointAt(i) > 0xffff ? 2 : 1;
  return i;
}

// Maps a UTF-16 offset of `from` into `to` through their common prefix and
// suffix (used only when the selection moved while a request was in flight).
function mapOffset(from, to, u) {
  let p = 0;
  const n = Math.min(from.length, to.length);
  while (p < n && from[p] === to[p]) p++;
  let s = 0;
  while (s < n - p && from[from.length - 1 - s] === to[to.length - 1 - s]) s++;
  if (u <= p) return u;
  if (u >= from.length - s) return u + to.length - from.length;
  return to.length - s;
}

// ---- server ----------------------------------------------------------------------

async function api(path, body) {
  const init = body ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {};
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { status: res.status, data };
}

function colour(site) {
  sites.add(site);
  const sorted = [...sites].sort((a, b) => a - b);
  return PALETTE[sorted.indexOf(site) % PALETTE.length];
}

function showError(msg) { document.getElementById('error').textContent = msg || ''; }

// ---- rendering the weave ---------------------------------------------------------

function glyph(cp) {
  if (cp === 10) return '↵';
  if (cp === 32) return '·';
  if (cp < 32 || cp === 127) return '¿';
  return String.fromCodePoint(cp);
}

// atoms: [site, clock, kind (0 root, 1 char, 2 delete), code point, deleted, cause index]
function renderWeave(el, atoms) {
  const frag = document.createDocumentFragment();
  for (const [site, clock, kind, cp, deleted] of atoms) {
    if (kind !== 1) continue;
    const span = document.createElement('span');
    span.textContent = glyph(cp);
    span.style.background = colour(site);
    span.title = `site ${site}, clock ${clock}${deleted ? ', deleted' : ''}`;
    if (deleted) span.className = 'del';
    frag.appendChild(span);
  }
  el.replaceChildren(frag);
}

// The causal tree, one line per typing run (a chain of chars of one site,
// each the only child of the one before), indented by branching depth.
function renderTree(el, atoms) {
  const kids = atoms.map(() => []);
  atoms.forEach((a, i) => { if (i && a[2] === 1) kids[a[5]].push(i); });
  const frag = document.createDocumentFragment();
  const line = (depth, parts) => {
    const div = document.createElement('div');
    div.appendChild(document.createTextNode('  '.repeat(depth) + (depth ? '└ ' : '')));
    parts.forEach((p) => div.appendChild(p));
    frag.appendChild(div);
  };
  const root = document.createElement('span');
  root.textContent = 'root';
  line(0, [root]);
  const stack = kids[0].slice().reverse().map((i) => [i, 1]);
  let lines = 0;
  while (stack.length && lines < 400) {
    const [start, depth] = stack.pop();
    const site = atoms[start][0];
    const run = [start];
    let at = start;
    while (kids[at].length === 1 && atoms[kids[at][0]][0] === site) { at = kids[at][0]; run.push(at); }
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.style.background = colour(site);
    tag.textContent = String(site);
    const text = document.createElement('span');
    for (const i of run) {
      const t = document.createTextNode(glyph(atoms[i][3]));
      if (atoms[i][4]) { const s = document.createElement('s'); s.appendChild(t); text.appendChild(s); } else text.appendChild(t);
    }
    const clk = document.createElement('span');
    clk.className = 'clk';
    const c0 = atoms[start][1], c1 = atoms[at][1];
    clk.textContent = c0 === c1 ? ` ${c0}` : ` ${c0}–${c1}`;
    line(depth, [tag, document.createTextNode(' '), text, clk]);
    lines++;
    kids[at].slice().reverse().forEach((k) => stack.push([k, depth + 1]));
  }
  if (stack.length) line(0, [document.createTextNode('…')]);
  el.replaceChildren(frag);
}

// ---- a panel -------------------------------------------------------------------------

class Panel {
  constructor(p) {
    const el = document.getElementById('panel').content.firstElementChild.cloneNode(true);
    this.el = el;
    this.site = p.site;
    this.ta = el.querySelector('textarea');
    this.queue = [];
    this.dirty = false;
    this.busy = false;
    el.dataset.site = p.site;
    el.querySelector('.site').textContent = `site ${p.site}`;
    el.querySelector('.site').style.background = colour(p.site);
    this.ta.setAttribute('aria-label', `text of site ${p.site}`);
    this.composing = false; // an IME composition is open: never replace the text under it
    this.ta.addEventListener('input', (e) => { if (!e.isComposing) this.kick('edit'); });
    this.ta.addEventListener('compositionstart', () => { this.composing = true; });
    this.ta.addEventListener('compositionend', () => { this.composing = false; this.kick('edit'); });
    el.querySelector('.conn').addEventListener('click', () => this.kick(this.connected ? 'disconnect' : 'connect'));
    el.querySelector('.merge').addEventListener('click', () => this.kick('merge'));
    el.querySelector('.fork').addEventListener('click', () => this.kick('fork'));
    document.getElementById('panels').appendChild(el);
    this.reset(p);
  }

  // Takes the server's view as it is (first load, or after a 409).
  reset(p) {
    this.ta.value = p.text;
    this.tok = p.tok;
    this.hash = null;
    this.show(p);
  }

  show(p) {
    this.connected = p.connected;
    this.el.classList.toggle('offline', !p.connected);
    this.el.querySelector('.conn').textContent = p.connected ? 'Disconnect' : 'Connect';
    this.el.querySelector('.state').textContent =
      `${p.connected ? 'connected' : 'offline'} · read ${p.v} · pending ${p.pending}`;
    this.el.querySelector('.status').textContent = p.status;
    if (p.atoms) {
      this.hash = p.hash;
      renderWeave(this.el.querySelector('.weave'), p.atoms);
      renderTree(this.el.querySelector('.tree'), p.atoms);
      if (p.atoms_total > p.atoms.length) {
        this.el.querySelector('.weave').append(` … (the first ${p.atoms.length} of ${p.atoms_total} atoms)`);
      }
    }
    this.el.dataset.pending = p.pending;
  }

  kick(action) {
    if (action === 'edit') this.dirty = true;
    else this.queue.push(action);
    if (!this.busy) this.run();
  }

  async run() {
    this.busy = true;
    this.el.dataset.busy = '1';
    while (this.queue.length || this.dirty) {
      const action = this.queue.length ? this.queue.shift() : 'edit';
      if (action === 'edit') this.dirty = false;
      const sent = this.ta.value, ss = this.ta.selectionStart, se = this.ta.selectionEnd;
      const body = {
        doc: docName, site: this.site, text: sent, base: this.tok,
        sel: [unitsToCp(sent, ss), unitsToCp(sent, se)],
      };
      if (this.hash) body.hash = this.hash;
      let r;
      try {
        r = await api('/api/' + action, body);
      } catch (e) {
        showError('server unreachable: retrying');
        this.dirty = true;
        await new Promise((ok) => setTimeout(ok, 1000));
        continue;
      }
      showError('');
      if (r.status === 409) { await this.reload(); continue; }
      if (r.status !== 200) { showError(`${action}: ${r.status} ${r.data ? r.data.error : ''}`); continue; }
      document.getElementById('x').textContent = r.data.x;
      this.receive(r.data.panel, sent, ss, se);
      if (r.data.created && !panels.has(r.data.created.site)) panels.set(r.data.created.site, new Panel(r.data.created));
    }
    this.busy = false;
    this.el.dataset.busy = '';
  }

  receive(p, sent, ss, se) {
    const ta = this.ta;
    if (ta.value === sent && !this.composing) {
      if (p.text !== sent) {
        let a, b;
        if (p.sel && ta.selectionStart === ss && ta.selectionEnd === se) {
          a = cpToUnits(p.text, p.sel[0]);
          b = cpToUnits(p.text, p.sel[1]);
        } else {
          a = mapOffset(sent, p.text, ta.selectionStart);
          b = mapOffset(sent, p.text, ta.selectionEnd);
        }
        ta.value = p.text;
        ta.setSelectionRange(a, b);
      }
      this.tok = p.tok;
    } else {
      // Typed meanwhile (or composing): what the textarea holds was typed on
      // the text we sent; the merge shows once it is sent again.
      this.tok = p.sent;
      if (ta.value !== sent) this.dirty = true; // composing: compositionend sends it
    }
    this.show(p);
  }

  async reload() {
    const r = await api('/api/state' + (docName ? '?doc=' + encodeURIComponent(docName) : ''));
    const p = r.status === 200 && r.data.panels.find((q) => q.site === this.site);
    if (p) this.reset(p);
    this.dirty = false;
  }
}

async function start() {
  const r = await api('/api/state' + (DOC ? '?doc=' + encodeURIComponent(DOC) : ''));
  if (r.status !== 200) { showError(`cannot load: ${r.status} ${r.data ? r.data.error : ''}`); return; }
  docName = r.data.doc;
  document.getElementById('doc').textContent = docName;
  document.getElementById('x').textContent = r.data.x;
  const others = r.data.docs.filter((d) => d !== docName);
  if (others.length) {
    const docs = document.getElementById('docs');
    docs.append('other documents: ');
    for (const d of others) {
      const a = document.createElement('a');
      a.href = '/?doc=' + encodeURIComponent(d);
      a.textContent = d;
      docs.append(a, ' ');
    }
  }
  for (const p of r.data.panels) panels.set(p.site, new Panel(p));
  document.body.dataset.ready = '1';
  setInterval(() => {
    for (const p of panels.values()) if (p.connected && !p.busy && !p.composing) p.kick('edit');
  }, POLL_MS);
  // Panels forked elsewhere (another tab, another client) appear here too.
  setInterval(async () => {
    const s = await api('/api/state?doc=' + encodeURIComponent(docName)).catch(() => null);
    if (!s || s.status !== 200) return;
    for (const p of s.data.panels) if (!panels.has(p.site)) panels.set(p.site, new Panel(p));
  }, 3000);
}

start();
