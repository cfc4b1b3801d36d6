// The bench page in real Chromium (Debian's /usr/bin/chromium, driven by playwright-core; no
// browser is downloaded). Run by test_page.py, which starts the emulator and benchd and checks
// the store afterwards:  node page.js CONFIG.json
// It talks back on stdout, one JSON object per line: {"step":...} progress, {"need":"restart"}
// (test_page.py restarts benchd on the same port and answers "ok" on stdin), and last
// {"result": {...figures...}} or {"fail": "why"}. Exit 0 pass, 1 fail.
'use strict';
const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');
const {chromium} = require('playwright-core');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const result = {};
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const step = (s) => say({step: s});
class Fail extends Error {}
const check = (cond, msg) => { if (!cond) throw new Fail(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stdin = readline.createInterface({input: process.stdin});
const lines = [];
let lineWaiter = null;
stdin.on('line', (l) => { lines.push(l); if (lineWaiter) { lineWaiter(); lineWaiter = null; } });
async function ask(what) {
  say({need: what});
  while (!lines.length) await new Promise((r) => { lineWaiter = r; });
  const l = lines.shift();
  check(l === 'ok', 'the harness could not ' + what + ': ' + l);
}

function emu(line) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(cfg.emu_control);
    let buf = '';
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d) => { buf += d; if (buf.includes('\n')) { s.end(); resolve(buf.trim()); } });
    s.on('error', reject);
  });
}

// A signed report in the state directory, read as the store wrote it (not from the page).
function reports() {
  const dir = path.join(cfg.state_dir, 'reports');
  const out = [];
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.jws.json')) continue;
    try {
      const jws = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      out.push(JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')));
    } catch (e) { /* being written: the next look sees it */ }
  }
  return out;
}

async function waitFor(what, fn, ms, every = 5) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Fail('timed out after ' + ms + ' ms waiting for ' + what);
    await sleep(every);
  }
}

const tile = (udid) => '[data-device="' + udid + '"]';

async function main() {
  const browser = await chromium.launch({
    executablePath: cfg.chromium || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-default-apps', '--disable-features=Translate,MediaRouter,OptimizationHints',
      '--metrics-recording-only', '--password-store=basic'],
  });
  const problems = [];
  try {
    const ctx = await browser.newContext({viewport: {width: 1500, height: 1000}, deviceScaleFactor: 1});
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/.test(m.text())) problems.push('console: ' + m.text()); });
    // Any Content-Security-Policy violation means the page would break under its own policy.
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
      });
    });

    step('load');
    const t0 = Date.now();
    await page.goto(cfg.url);
    await page.waitForSelector('#conn.conn-live', {timeout: 15000});
    await waitFor('a tile for every device', async () => (await page.$$('.tile')).length >= cfg.devices.length, 30000, 50);
    result.load_ms = Date.now() - t0;

    // Every emulated device: its tile, with the model and (when the phone could be read) battery.
    step('tiles');
    for (const d of cfg.devices) {
      await waitFor('the tile of ' + d.udid + ' to show ' + d.model_name, async () =>
        (await page.textContent(tile(d.udid) + ' h3').catch(() => '')) === d.model_name, 30000, 50);
      if (d.battery !== undefined) {
        await waitFor('battery ' + d.battery + ' % on ' + d.udid, async () =>
          (await page.textContent(tile(d.udid) + ' .bat-pct').catch(() => '')) === d.battery + ' %', 30000, 50);
        const band = await page.getAttribute(tile(d.udid) + ' .bat-pct', 'class');
        check(band.includes('band-' + d.band), d.udid + ': battery colour ' + band + ', want ' + d.band);
      }
      if (d.alert) {
        await waitFor('what to do on ' + d.udid, async () =>
          ((await page.textContent(tile(d.udid) + ' .alert').catch(() => '')) || '').includes(d.alert), 30000, 50);
      }
    }
    // Every control has an accessible name.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select, a, progress')]
      .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].textContent.trim()) ||
        (e.tagName !== 'INPUT' && e.tagName !== 'SELECT' && e.tagName !== 'PROGRESS' && e.textContent.trim())))
      .map((e) => e.outerHTML.slice(0, 120)));
    check(unnamed.length === 0, 'controls without an accessible name: ' + unnamed.join(' | '));
    await page.screenshot({path: path.join(cfg.artefacts, 'bench-en.png'), fullPage: true});

    // A phone plugged in after the page loaded: its tile appears without a reload.
    step('plug');
    await page.evaluate((u) => {
      window.__seen = new Promise((resolve) => {
        const look = () => document.querySelector('[data-device="' + u + '"]');
        if (look()) return resolve(performance.timeOrigin + performance.now());
        new MutationObserver((_, obs) => { if (look()) { obs.disconnect(); resolve(performance.timeOrigin + performance.now()); } })
          .observe(document.getElementById('tiles'), {childList: true});
      });
    }, cfg.plug.udid);
    const plugAt = Date.now();
    check((await emu('attach ' + cfg.plug.dir)).startsWith('ok'), 'the emulator did not attach ' + cfg.plug.dir);
    const seenAt = await page.evaluate(() => window.__seen);
    result.plug_to_tile_ms = Math.round(seenAt - plugAt);
    await page.waitForSelector(tile(cfg.plug.udid) + ' .bat-pct', {timeout: 30000});
    result.plug_to_battery_ms = Date.now() - plugAt;

    // The open question: its choice clicked gives a signed revision (read from the state dir).
    step('answer');
    const qsel = tile(cfg.question.udid) + ' button.choice[data-choice="' + cfg.question.choice + '"]';
    await page.waitForSelector(qsel, {timeout: 30000});
    const before = reports().filter((r) => r.device.udid === cfg.question.udid);
    const caseId = before[0].case.case_id;
    const clickAt = Date.now();
    await page.click(qsel);
    const rev = await waitFor('the answered revision in the state directory', () => reports().find((r) =>
      r.case && r.case.case_id === caseId && r.case.revision === before.length + 1 &&
      r.answers && r.answers[cfg.question.key] === cfg.question.choice), 10000);
    result.click_to_revision_ms = Date.now() - clickAt;
    result.answered = {case_id: caseId, report_id: rev.report_id, revision: rev.case.revision};
    await waitFor('the question to leave the tile', async () => !(await page.$(qsel)), 10000, 20);

    // A barcode scanner types the ticket and Enter.
    step('ticket');
    const tin = tile(cfg.ticket.udid) + ' input.ticket-in';
    const tb = reports().filter((r) => r.device.udid === cfg.ticket.udid);
    await page.click(tin);
    const typeAt = Date.now();
    await page.keyboard.type(cfg.ticket.ticket, {delay: 5});
    await page.keyboard.press('Enter');
    const trev = await waitFor('the ticket revision in the state directory', () => reports().find((r) =>
      r.device.udid === cfg.ticket.udid && r.case && r.case.ticket === cfg.ticket.ticket), 10000);
    result.enter_to_revision_ms = Date.now() - typeAt;
    result.ticketed = {case_id: trev.case.case_id, report_id: trev.report_id, revision: trev.case.revision,
      earlier: tb.length};
    await waitFor('the ticket on the tile', async () =>
      ((await page.textContent(tile(cfg.ticket.udid) + ' .ids')) || '').includes(cfg.ticket.ticket), 10000, 20);

    // Earlier visits, on demand.
    step('history');
    await page.click(tile(cfg.ticket.udid) + ' details.history summary');
    await page.waitForSelector(tile(cfg.ticket.udid) + ' table.hist tbody tr', {timeout: 10000});

    // The customer page in the chosen language opens from the tile.
    step('language');
    await page.selectOption('#lang', 'zh');
    await waitFor('zh labels', async () => (await page.getAttribute('html', 'lang')) === 'zh' &&
      ((await page.textContent(tile(cfg.ticket.udid) + ' label')) || '').includes('工单'), 5000, 20);
    await page.screenshot({path: path.join(cfg.artefacts, 'bench-zh.png'), fullPage: true});
    const [cust] = await Promise.all([ctx.waitForEvent('page'),
      page.click(tile(cfg.ticket.udid) + ' .links a:first-child')]);
    await cust.waitForLoadState();
    check(cust.url().includes('view=customer') && cust.url().includes('lang=zh'), 'customer link ' + cust.url());
    check(((await cust.textContent('body')) || '').length > 200, 'the customer page is empty');
    await cust.screenshot({path: path.join(cfg.artefacts, 'customer-zh.png'), fullPage: true});
    await cust.close();
    await page.selectOption('#lang', 'en');

    // The stream drops (benchd restarts on the same port): the page says so, reconnects by
    // itself, reloads for the new CSRF token, and works again.
    step('restart');
    await ask('restart');
    await page.waitForSelector('#conn.conn-reconnecting, #conn.conn-restarted', {timeout: 10000}).catch(() => {});
    await page.waitForSelector('#conn.conn-live', {timeout: 30000});
    await waitFor('the tiles after the restart', async () => (await page.$$('.tile')).length >= cfg.devices.length, 30000, 50);
    // A write after the restart goes through (the page took the new token): a booking.
    await page.selectOption('#bk-kind', 'serial');
    await page.fill('#bk-value', cfg.booking.serial);
    await page.fill('#bk-ticket', cfg.booking.ticket);
    await page.click('#booking-form button[type=submit]');
    await waitFor('the booking in the list', async () =>
      ((await page.textContent('#booking-list')) || '').includes(cfg.booking.ticket), 10000, 20);

    const csp = await page.evaluate(() => window.__csp || []);
    check(csp.length === 0, 'CSP violations: ' + csp.join(', '));
    check(problems.length === 0, 'the page reported errors: ' + problems.join(' | '));
    say({result});
  } catch (e) {
    // What the page showed when it failed, for the person reading the log.
    for (const p of browser.contexts().flatMap((c) => c.pages())) {
      await p.screenshot({path: path.join(cfg.artefacts, 'failed.png'), fullPage: true}).catch(() => {});
    }
    if (problems.length) e.message += ' (page errors: ' + problems.join(' | ') + ')';
    throw e;
  } finally {
    await browser.close();
  }
}

// Many phones at once: every tile live, the page responsive while they stream in.
async function many() {
  const browser = await chromium.launch({
    executablePath: cfg.chromium || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-default-apps'],
  });
  const problems = [];
  try {
    const page = await browser.newPage({viewport: {width: 1600, height: 1000}});
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    await page.addInitScript(() => {
      window.__long = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
        .observe({type: 'longtask', buffered: true});
      // Event-loop lag: how late a 50 ms timer fires, sampled all along.
      window.__lag = 0;
      let last = performance.now();
      setInterval(() => { const now = performance.now(); window.__lag = Math.max(window.__lag, now - last - 50); last = now; }, 50);
    });
    await page.goto(cfg.url);
    await page.waitForSelector('#conn.conn-live', {timeout: 15000});
    const n = cfg.devices.length;
    step('plugging ' + n + ' phones');
    const t0 = Date.now();
    for (const d of cfg.plug_all) check((await emu('attach ' + d)).startsWith('ok'), 'attach ' + d);
    result.attach_cmds_ms = Date.now() - t0;
    let lastSample = 0;
    const sample = async () => { if (Date.now() - lastSample > 500) { lastSample = Date.now(); await ask('sample'); } };
    await waitFor(n + ' tiles', async () => { await sample(); return (await page.$$('.tile')).length >= n; }, 60000, 20);
    result.all_tiles_ms = Date.now() - t0;
    // Every phone settles: a signed report on its tile, or its session's reason (a phone that
    // drops the handshake under this load says so and is replugged at a real bench).
    await waitFor(n + ' settled tiles', async () => {
      await sample();
      return (await page.$$('.tile .rev')).length + (await page.$$('.tile[data-session=failed]')).length >= n;
    }, 240000, 50);
    result.all_settled_ms = Date.now() - t0;
    result.reports_on_page = (await page.$$('.tile .rev')).length;
    result.batteries_on_page = (await page.$$('.tile .bat-pct')).length;
    result.failed_sessions = (await page.$$('.tile[data-session=failed]')).length;
    // Under sanitizers and two busy cores the emulator may drop a few handshakes; those tiles say
    // so (checked above). The page must still show the bench as it is: most phones reported.
    check(result.reports_on_page >= n * 3 / 4, 'only ' + result.reports_on_page + ' of ' + n + ' reports on the page');
    const failedText = await page.$$eval('.tile[data-session=failed] .step-text', (e) => e.map((x) => x.textContent));
    check(failedText.length === result.failed_sessions && failedText.every((x) => x.length > 10),
      'a failed session without its reason on the tile: ' + JSON.stringify(failedText));
    // Responsiveness with every tile on the page: a language switch re-renders all of them.
    const sw = await page.evaluate(async () => {
      const t = performance.now();
      const sel = document.getElementById('lang');
      sel.value = 'zh';
      sel.dispatchEvent(new Event('change'));
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      return performance.now() - t;
    });
    result.lang_switch_ms = Math.round(sw);
    // A click that asks the server: the earlier visits of the last tile.
    const last = cfg.devices[n - 1].udid;
    const c0 = Date.now();
    await page.click(tile(last) + ' details.history summary');
    await page.waitForSelector(tile(last) + ' table.hist tbody tr', {timeout: 10000});
    result.history_click_ms = Date.now() - c0;
    await page.screenshot({path: path.join(cfg.artefacts, 'bench-' + n + '.png'), fullPage: false});
    const perf = await page.evaluate(() => ({long: window.__long, lag: window.__lag,
      heap: performance.memory ? performance.memory.usedJSHeapSize : null, nodes: document.getElementsByTagName('*').length}));
    result.longest_task_ms = Math.round(Math.max(0, ...perf.long));
    result.long_tasks = perf.long.length;
    result.max_timer_lag_ms = Math.round(perf.lag);
    result.page_heap_mb = perf.heap ? Math.round(perf.heap / 1048576 * 10) / 10 : null;
    result.dom_nodes = perf.nodes;
    await ask('sample');
    for (const d of cfg.devices.slice(0, 5)) {
      check((await page.textContent(tile(d.udid) + ' h3')) === d.model_name, 'model on ' + d.udid);
    }
    check(result.lang_switch_ms < 1000, 'switching the language of ' + n + ' tiles took ' + result.lang_switch_ms + ' ms');
    check(result.history_click_ms < 2000, 'a click took ' + result.history_click_ms + ' ms with ' + n + ' tiles');
    check(result.max_timer_lag_ms < 1000, 'the page froze for ' + result.max_timer_lag_ms + ' ms');
    check(problems.length === 0, problems.join(' | '));
    say({result});
  } finally {
    await browser.close();
  }
}

(cfg.mode === 'many' ? many() : main()).then(() => process.exit(0), (e) => {
  say({fail: e instanceof Fail ? e.message : String(e.stack || e)});
  process.exit(1);
});
