// serve.test.mjs WEAVE [SCREENSHOT] — `weave serve` in headless Chromium
// (playwright-core, the browser at $WV_CHROMIUM or /usr/bin/chromium):
// two panels, one disconnected, typed into, reconnected, equal; a cursor and
// a selection survive a remote merge; a fork; reload and a server restart
// restore every panel (text, connected flag, offline edits). Exits 0, or 1
// naming the failed check. SCREENSHOT: where to write a picture of the page.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [weave, screenshot] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'weave-serve-'));
const db = join(dir, 'demo.db');
let server = null, browser = null;
// Stopped from outside (a meson timeout): take the server down too.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    if (server) server.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  });
}

function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
  console.log('ok   ' + what);
}

// Starts the server on a free port; resolves with its URL (first stdout line).
function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(weave, ['serve', '--db', db, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ proc: p, url: out.slice(0, nl).trim() });
    });
    p.on('exit', (code) => reject(new Error('weave serve exited early: ' + code)));
  });
}

// SIGTERM; the server must shut down cleanly (exit 0: under ASan, no leak).
function stopServer(s) {
  return new Promise((resolve) => {
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', (code, sig) => resolve(code === 0 ? 0 : code ?? sig));
    s.proc.kill('SIGTERM');
  });
}

const ta = (site) => `section[data-site="${site}"] textarea`;
const text = (page, site) => page.$eval(ta(site), (t) => t.value);
const sel = (page, site) => page.$eval(ta(site), (t) => [t.selectionStart, t.selectionEnd]);

async function waitEqual(page, site, want, what) {
  try {
    await page.waitForFunction(([s, w]) => document.querySelector(s)?.value === w, [ta(site), want], { timeout: 15000 });
  } catch (e) {
    throw new Error(`check failed: ${what}: site ${site} shows ${JSON.stringify(await text(page, site))}, want ${JSON.stringify(want)}`);
  }
  console.log('ok   ' + what);
}

// Types at code-unit position pos of a panel, as a user would: focus, put
// the caret there, press keys.
async function typeAt(page, site, pos, keys) {
  await page.click(ta(site));
  await page.$eval(ta(site), (t, p) => t.setSelectionRange(p, p), pos);
  await page.keyboard.type(keys, { delay: 15 });
}

async function idle(page, site) {
  await page.waitForFunction((s) => !document.querySelector(`section[data-site="${s}"]`).dataset.busy, site);
}

async function button(page, site, cls) {
  await page.click(`section[data-site="${site}"] button.${cls}`);
}

async function connected(page, site) {
  return page.$eval(`section[data-site="${site}"]`, (s) => !s.classList.contains('offline'));
}

async function open(page, url) {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]');
}

async function main() {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.WV_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
  page.on('pageerror', (e) => { console.log('page error: ' + e.message); process.exitCode = 1; });
  await open(page, server.url);
  check((await page.$$('section.panel')).length === 2, 'a new document shows two panels');

  // Two connected panels.
  await typeAt(page, 1, 0, 'hello');
  await waitEqual(page, 2, 'hello', 'typing in site 1 reaches connected site 2');

  // Site 2 offline; both type.
  await button(page, 2, 'conn');
  await page.waitForSelector('section[data-site="2"].offline');
  await typeAt(page, 2, 5, ' offline');
  await typeAt(page, 1, 0, 'Hi, ');
  await waitEqual(page, 1, 'Hi, hello', 'site 1 edits while site 2 is offline');
  await page.waitForTimeout(1200);
  check(await text(page, 2) === 'hello offline', 'offline site 2 keeps its own text, untouched by site 1');
  check(await text(page, 1) === 'Hi, hello', 'site 1 does not see offline site 2\'s edit');
  await button(page, 2, 'conn');
  await waitEqual(page, 2, 'Hi, hello offline', 'reconnected site 2 merges site 1\'s edit');
  await waitEqual(page, 1, 'Hi, hello offline', 'site 1 receives site 2\'s offline edit: both panels show the same text');

  // A cursor and a selection survive a remote merge.
  await idle(page, 1);
  await page.$eval(ta(1), (t) => t.setSelectionRange(4, 9)); // "hello"
  await page.waitForTimeout(600); // a poll carries the selection to the server
  await typeAt(page, 2, 0, '>> ');
  await waitEqual(page, 1, '>> Hi, hello offline', 'site 1 receives a remote insert before its selection');
  const s1 = await sel(page, 1);
  check(s1[0] === 7 && s1[1] === 12, `site 1's selection still covers "hello" (${s1})`);
  await page.$eval(ta(1), (t) => t.setSelectionRange(12, 12)); // after "hello"
  await page.waitForTimeout(600);
  await typeAt(page, 2, 20, '!'); // at the end, after the caret: must not move it
  await typeAt(page, 2, 3, 'é😀'); // before the caret: moves it by two code points, three UTF-16 units
  await waitEqual(page, 1, '>> é😀Hi, hello offline!', 'site 1 receives remote inserts on both sides of its caret');
  const c1 = await sel(page, 1);
  check(c1[0] === 15 && c1[1] === 15, `site 1's caret stays after "hello" (${c1})`);

  // Fork site 2 into a new panel; take it offline and type there.
  await button(page, 2, 'fork');
  await page.waitForSelector('section[data-site="3"]');
  await waitEqual(page, 3, '>> é😀Hi, hello offline!', 'a fork of site 2 starts with its text');
  await button(page, 3, 'conn');
  await page.waitForSelector('section[data-site="3"].offline');
  await typeAt(page, 3, 0, '[3] ');
  await idle(page, 3);
  await page.waitForTimeout(800);
  check(await text(page, 1) === '>> é😀Hi, hello offline!', 'site 3\'s offline edit stays local');

  // Reload: the page comes back from the server's state.
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  check((await page.$$('section.panel')).length === 3, 'after a reload: three panels');
  check(await text(page, 3) === '[3] >> é😀Hi, hello offline!', 'after a reload: site 3 keeps its offline edit');
  check(!(await connected(page, 3)) && (await connected(page, 1)) && (await connected(page, 2)),
    'after a reload: site 3 still offline, sites 1 and 2 connected');
  check(await text(page, 2) === '>> é😀Hi, hello offline!', 'after a reload: site 2\'s text');

  // Restart the server: every panel comes back from the database.
  const rc = await stopServer(server);
  check(rc === 0, `the server exits 0 on SIGTERM (${rc})`);
  server = await startServer();
  await open(page, server.url);
  check((await page.$$('section.panel')).length === 3, 'after a restart: three panels');
  check(await text(page, 3) === '[3] >> é😀Hi, hello offline!', 'after a restart: site 3 keeps its offline edit');
  check(await text(page, 1) === '>> é😀Hi, hello offline!', 'after a restart: site 1\'s text');
  check(!(await connected(page, 3)) && (await connected(page, 1)),
    'after a restart: site 3 still offline, site 1 connected');
  await typeAt(page, 1, 0, 'ok ');
  await button(page, 3, 'conn');
  const all = 'ok [3] >> é😀Hi, hello offline!';
  for (const s of [1, 2, 3]) await waitEqual(page, s, all, `after a restart and reconnect: site ${s} converges`);
  const weaves = await page.$$eval('section.panel .weave', (w) => w.map((e) => e.textContent));
  check(weaves.every((w) => w === weaves[0]) && weaves[0].includes('·'), 'every panel shows the same weave');
  const struck = await page.$$eval('section.panel .weave .del', (d) => d.length);
  check(struck === 0, 'nothing deleted yet: no struck atoms');
  await typeAt(page, 1, 3, '');
  await page.$eval(ta(1), (t) => t.setSelectionRange(0, 3));
  await page.keyboard.press('Backspace');
  await waitEqual(page, 2, '[3] >> é😀Hi, hello offline!', 'a deletion reaches site 2');
  await page.waitForFunction(() => document.querySelectorAll('section[data-site="2"] .weave .del').length === 3);
  check(true, 'site 2\'s weave shows the three deleted atoms struck through');

  // An IME composition is never replaced under the user: a remote edit
  // arriving meanwhile shows once the composition ends.
  await page.click(ta(1));
  await page.$eval(ta(1), (t) => t.setSelectionRange(t.value.length, t.value.length));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.imeSetComposition', { text: 'にほ', selectionStart: 2, selectionEnd: 2 });
  // Meanwhile another client (not this page: leaving the textarea would end
  // the composition) types at site 2; this page's site 2 panel then holds a
  // text the server no longer keeps, gets 409 and reloads it.
  const st = await (await fetch(server.url + 'api/state')).json();
  const p2 = st.panels.find((p) => p.site === 2);
  const r2 = await fetch(server.url + 'api/edit', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ doc: st.doc, site: 2, text: '~' + p2.text, base: p2.tok }),
  });
  check(r2.status === 200, `another client types at site 2 (${r2.status})`);
  await waitEqual(page, 3, '~[3] >> é😀Hi, hello offline!', 'site 2\'s edit reaches site 3');
  await waitEqual(page, 2, '~[3] >> é😀Hi, hello offline!', 'this page\'s site 2 panel reloads the text another client changed');
  await page.waitForTimeout(800);
  const mid = await text(page, 1);
  check(mid === '[3] >> é😀Hi, hello offline!にほ', `site 1's open composition is left alone (${mid})`);
  await cdp.send('Input.insertText', { text: '日本' });
  await waitEqual(page, 1, '~[3] >> é😀Hi, hello offline!日本', 'the composition ends: site 1 merges site 2\'s edit');
  await waitEqual(page, 2, '~[3] >> é😀Hi, hello offline!日本', 'site 2 gets the committed text');

  // For the README: site 3 offline with a draft, the others moving on.
  await button(page, 3, 'conn');
  await page.waitForSelector('section[data-site="3"].offline');
  await typeAt(page, 3, 4, ' draft:');
  await typeAt(page, 2, 31, ' Bye.');
  await waitEqual(page, 1, '~[3] >> é😀Hi, hello offline!日本 Bye.', 'site 2\'s edit reaches site 1 while site 3 drafts offline');
  await idle(page, 3);
  await page.$eval(ta(1), (t) => t.blur());
  if (screenshot) {
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot, fullPage: true });
  }

  // A panel forked by another client shows up here without a reload.
  const f = await fetch(server.url + 'api/fork', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ doc: 'demo', site: 1 }),
  });
  const created = f.status === 200 ? (await f.json()).created.site : 0;
  check(created > 3, `another client forks site 1 into site ${created}`);
  await page.waitForSelector(`section[data-site="${created}"]`, { timeout: 10000 });
  await waitEqual(page, created, await text(page, 1), `site ${created} appears on this page with site 1's text`);
}

try {
  await main();
  console.log(process.exitCode ? 'FAILED' : 'all browser checks passed');
} catch (e) {
  console.log(e.message);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  if (server) await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
}
