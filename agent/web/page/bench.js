// The bench page (DESIGN.md 4.10): a view of benchd. It shows what /api/state and the events on
// /api/events say, and every action is a POST that benchd turns into the same command the
// control socket runs. No bench logic lives here: no rule about answers, tickets or outcomes.
// Every string from the server goes into the page as text (textContent), never as HTML.
'use strict';

(function () {
  const meta = (n) => (document.querySelector('meta[name="' + n + '"]') || {}).content || '';
  const CSRF = meta('benchd-csrf');
  const BENCH = meta('benchd-bench');
  const LANGS = ['en', 'it', 'fr', 'zh'];
  let lang = LANGS.includes(localStorage.getItem('benchd-lang')) ? localStorage.getItem('benchd-lang')
    : (LANGS.includes(meta('benchd-lang')) ? meta('benchd-lang') : 'en');

  let labels = {};
  let catalogue = null;
  const tiles = new Map(); // device -> {d: data, el, parts}
  let order = [];          // devices in plug order
  let seq = -1;            // the state's seq; events at or below it are already in it
  let haveState = false;
  let buffered = [];       // events that came before the state
  let started = null;      // benchd's start, to notice a restart (new CSRF token)
  let summary = {waiting: 0, pending: 0, held: 0};
  let es = null;

  // --------------------------------------------------------------------------------------
  // Labels

  function t(key, vars) {
    const set = labels[lang] || {};
    let s = set[key] || (labels.en || {})[key] || key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined && vars[k] !== null ? String(vars[k]) : m));
    }
    return s;
  }

  function pick(texts, fallback) {
    if (texts && typeof texts === 'object') {
      return texts[lang] || texts.en || fallback || '';
    }
    return fallback || '';
  }

  function partName(part) {
    const p = catalogue && catalogue.parts && catalogue.parts[part];
    return p ? pick(p, part) : part;
  }

  // Why a fault has no part to replace ("part": null, "part_note": "ask the customer"), in the
  // page's language: the glossary's "none (ask the customer)" holds it in parentheses.
  function partNote(note) {
    const p = note && catalogue && catalogue.parts && catalogue.parts['none (' + note + ')'];
    const m = p && /[(（](.*)[)）]\s*$/.exec(pick(p, ''));
    return m ? m[1] : (note || '');
  }

  function faultTitle(f) {
    const c = catalogue && catalogue.codes && catalogue.codes[f.code];
    return c && c.title ? pick(c.title, f.title) : (f.title || f.code);
  }

  function action(code) {
    const c = catalogue && catalogue.codes && catalogue.codes[code];
    return c && c.action ? pick(c.action, '') : '';
  }

  function applyLabels() {
    document.documentElement.lang = lang;
    document.title = t('title', {bench: BENCH});
    el('title').textContent = t('title', {bench: BENCH});
    document.querySelectorAll('[data-l]').forEach((n) => { n.textContent = t(n.dataset.l); });
    el('lang').value = lang;
    el('bk-lang').value = lang;
    renderSummary();
    for (const key of order) render(tiles.get(key));
    loadBookings();
  }

  // --------------------------------------------------------------------------------------
  // DOM helpers

  function el(id) { return document.getElementById(id); }

  // Replace n's children, leaving out the null/false ones (replaceChildren would print "null").
  function set(n, ...kids) {
    n.replaceChildren(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  }

  function h(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids) if (k !== null && k !== undefined && k !== false) n.append(k);
    return n;
  }

  function setConn(state) {
    const c = el('conn');
    c.className = 'conn conn-' + state;
    c.dataset.l = state;
    c.textContent = t(state);
  }

  // --------------------------------------------------------------------------------------
  // The API

  async function api(method, path, body) {
    const opt = {method, headers: {}, credentials: 'same-origin', cache: 'no-store'};
    if (method !== 'GET') {
      opt.headers['X-Benchd-CSRF'] = CSRF;
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body || {});
    }
    let r, j = null;
    try {
      r = await fetch(path, opt);
      j = await r.json();
    } catch (e) {
      return {ok: false, status: 0, error: String(e.message || e)};
    }
    if (!r.ok || !j || j.ok === false) {
      return {ok: false, status: r.status, error: (j && j.error) || ('HTTP ' + r.status), json: j};
    }
    return {ok: true, status: r.status, json: j};
  }

  // --------------------------------------------------------------------------------------
  // The model: what the server said, per device

  function upsert(device) {
    let tile = tiles.get(device);
    if (!tile) {
      tile = {d: {device, session: {}, readings: {}, case: null}, el: null, parts: null};
      tiles.set(device, tile);
      order.push(device);
    }
    return tile;
  }

  function remove(device) {
    const tile = tiles.get(device);
    if (!tile) return;
    if (tile.el) tile.el.remove();
    tiles.delete(device);
    order = order.filter((k) => k !== device);
  }

  function byCase(caseId) {
    for (const tile of tiles.values()) if (tile.d.case && tile.d.case.case_id === caseId) return tile;
    return null;
  }

  // The state: live devices (plug order), then the open cases of phones no longer attached.
  function applyState(st) {
    // Only tiles whose data changed are drawn again (the state comes often with many phones).
    const before = new Map([...tiles].map(([k, v]) => [k, JSON.stringify(v.d)]));
    const seen = new Set();
    const next = [];
    for (const l of st.live || []) {
      const tile = upsert(l.device);
      Object.assign(tile.d, {attached: true, mode: l.mode || tile.d.mode,
        model_name: l.model_name || tile.d.model_name, product_type: l.product_type || tile.d.product_type,
        serial: l.serial || tile.d.serial, since: l.since});
      // Keep what the stream said when it is finer: the step with its progress while the
      // session runs, how it ended once it has.
      const cur = tile.d.session || {};
      if (l.state === 'finished') {
        if (!['done', 'failed', 'unplugged', 'cancelled'].includes(cur.state)) {
          tile.d.session = l.report_id ? {state: 'done'} : {state: 'failed', reason: l.result};
        }
      } else if (!(cur.state === l.state && cur.total)) {
        tile.d.session = {state: l.state, step: l.stage};
      }
      if (l.case_id) tile.d.case = Object.assign({}, tile.d.case || {}, {case_id: l.case_id, ticket: l.ticket,
        report_id: l.report_id || (tile.d.case || {}).report_id});
      seen.add(l.device);
      next.push(l.device);
    }
    for (const c of st.cases || []) {
      const tile = upsert(c.device);
      if (!seen.has(c.device)) { tile.d.attached = false; next.push(c.device); seen.add(c.device); }
      Object.assign(tile.d, {model_name: tile.d.model_name || c.model_name,
        product_type: tile.d.product_type || c.product_type, serial: tile.d.serial || c.serial,
        ecid: tile.d.ecid || c.ecid, opened_at: c.opened_at});
      const l = c.latest || {};
      const old = tile.d.case || {};
      tile.d.case = Object.assign({}, old, {case_id: c.case_id, ticket: c.ticket, answers: c.answers,
        report_id: l.report_id || old.report_id, revision: l.revision, outcome: l.outcome, final: !!l.final,
        waiting: l.waiting || null, delivered: old.report_id === l.report_id ? old.delivered : false});
      if (old.report_id !== l.report_id) tile.d.case.questions = [];
    }
    for (const key of [...order]) if (!seen.has(key)) remove(key);
    // Plug order: tiles already shown keep their place, new ones follow by when they came.
    const pos = new Map(order.map((k, i) => [k, i]));
    const when = (k) => tiles.get(k).d.since || tiles.get(k).d.opened_at || '';
    next.sort((a, b) => {
      const pa = pos.has(a) ? pos.get(a) : order.length, pb = pos.has(b) ? pos.get(b) : order.length;
      if (pa !== pb) return pa - pb;
      return when(a) < when(b) ? -1 : (when(a) > when(b) ? 1 : (a < b ? -1 : 1));
    });
    order = next;
    summary = {waiting: st.waiting || 0, pending: (st.outbox || {}).pending || 0, held: (st.outbox || {}).held || 0};
    seq = typeof st.seq === 'number' ? st.seq : -1;
    for (const key of order) {
      const tile = tiles.get(key);
      details(tile);
      if (!tile.el || before.get(key) !== JSON.stringify(tile.d)) schedule(tile);
    }
    if (!frame) frame = requestAnimationFrame(flush);
  }

  // A case's latest report, for what the state does not carry: faults with parts, questions,
  // readings, iOS. Signed reports never change, so each is fetched once.
  const reportCache = new Map();
  async function details(tile) {
    const id = tile && tile.d.case && tile.d.case.report_id;
    if (!id) return;
    let rep = reportCache.get(id);
    if (!rep) {
      reportCache.set(id, 'loading');
      const r = await api('GET', '/api/reports/' + encodeURIComponent(id));
      if (!r.ok) { reportCache.delete(id); return; }
      rep = r.json.report;
      reportCache.set(id, rep);
    } else if (rep === 'loading') {
      return;
    }
    const cur = tiles.get(tile.d.device);
    if (!cur || !cur.d.case || cur.d.case.report_id !== id) return; // a newer revision came meanwhile
    const d = cur.d, dev = rep.device || {};
    Object.assign(d, {model_name: d.model_name || dev.model_name, product_type: d.product_type || dev.product_type,
      serial: d.serial || dev.serial, ios_version: dev.ios_version || d.ios_version, ecid: d.ecid || dev.ecid,
      lockdown: dev.lockdown, mode: d.mode || dev.mode});
    const rd = rep.readings || {};
    d.readings = Object.assign({}, rd.battery ? {battery: rd.battery} : {}, rd.crashes ? {crashes: crashesOf(rd.crashes)} : {},
      d.readings || {});
    Object.assign(d.case, {faults: rep.faults || [], incomplete: rep.incomplete || [],
      questions: d.case.final ? [] : (rep.questions || []), revision: (rep.case || {}).revision || d.case.revision,
      outcome: rep.outcome, ticket: (rep.case || {}).ticket !== undefined ? rep.case.ticket : d.case.ticket});
    schedule(cur);
  }

  // The report keeps the crash list; the tile shows how many were panics (bug_type 210).
  function crashesOf(c) {
    if (Array.isArray(c)) return {panics: c.filter((x) => String(x.bug_type) === '210').length, reports: c.length};
    return c;
  }

  function apply(ev) {
    if (typeof ev.seq === 'number') {
      if (ev.seq <= seq) return;
      seq = ev.seq;
    }
    const d = ev.device;
    let tile = d ? tiles.get(d) : null;
    switch (ev.type) {
    case 'device.attached':
      tile = upsert(d);
      Object.assign(tile.d, {attached: true, mode: ev.mode, ecid: ev.ecid || tile.d.ecid,
        product_type: ev.product_type || tile.d.product_type, model_name: ev.model_name || tile.d.model_name,
        session: {state: 'queued'}, readings: {}});
      break;
    case 'device.detached':
      if (!tile) return;
      tile.d.attached = false;
      if (!tile.d.case) { remove(d); renderSummary(); return; }
      break;
    case 'session.step':
      if (!tile) return;
      tile.d.session = {state: 'running', step: ev.step, done: ev.done, total: ev.total};
      break;
    case 'session.reading':
      if (!tile) return;
      tile.d.readings = Object.assign({}, tile.d.readings, {[ev.name]: ev.value});
      break;
    case 'session.ended':
      if (!tile) return;
      tile.d.session = {state: ev.state, reason: ev.reason};
      break;
    case 'report.signed':
      tile = upsert(d);
      tile.d.case = Object.assign({}, tile.d.case || {}, {case_id: ev.case_id, report_id: ev.report_id,
        revision: ev.revision, outcome: ev.outcome, faults: ev.faults || [], final: ev.final,
        ticket: ev.ticket !== undefined ? ev.ticket : (tile.d.case || {}).ticket,
        questions: [], waiting: null, delivered: false});
      details(tile);
      refreshSoon();
      break;
    case 'case.question':
      tile = tile || byCase(ev.case_id);
      if (!tile) return;
      tile.d.case = Object.assign({}, tile.d.case || {case_id: ev.case_id}, {questions: ev.questions || []});
      break;
    case 'case.waiting':
      tile = tile || byCase(ev.case_id);
      if (!tile) return;
      tile.d.case = Object.assign({}, tile.d.case || {case_id: ev.case_id}, {waiting: ev.why});
      refreshSoon();
      break;
    case 'case.delivered':
      tile = byCase(ev.case_id);
      if (tile && tile.d.case.report_id === ev.report_id) tile.d.case.delivered = true;
      refreshSoon();
      break;
    case 'case.closed':
      tile = byCase(ev.case_id);
      if (!tile) return;
      if (!tile.d.attached) { remove(tile.d.device); renderSummary(); return; }
      tile.d.case = null;
      break;
    case 'booking.changed':
      loadBookings();
      return;
    case 'stream.reset':
      return;
    default:
      return;
    }
    if (tile) schedule(tile);
  }

  // --------------------------------------------------------------------------------------
  // Rendering (batched per animation frame; the ticket field and the history are kept)

  const dirty = new Set();
  let frame = 0;
  function schedule(tile) {
    dirty.add(tile.d.device);
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    for (const key of dirty) { const tile = tiles.get(key); if (tile) render(tile); }
    dirty.clear();
    placeTiles();
    renderSummary();
  }
  function renderAll() {
    for (const key of order) render(tiles.get(key));
    placeTiles();
    renderSummary();
  }

  function placeTiles() {
    const box = el('tiles');
    let prev = null;
    for (const key of order) {
      const n = tiles.get(key).el;
      if (!n) continue;
      const want = prev ? prev.nextSibling : box.firstChild;
      if (n !== want) box.insertBefore(n, want);
      prev = n;
    }
    el('empty').hidden = order.length > 0;
  }

  function renderSummary() {
    el('summary').textContent = t('summary', {devices: order.length, waiting: summary.waiting,
      pending: summary.pending, held: summary.held});
  }

  function outcomeOf(d) {
    const c = d.case;
    if (c && c.outcome) {
      if (!c.final && ((c.questions && c.questions.length) || c.waiting)) return 'waiting';
      return c.outcome;
    }
    if (d.session && (d.session.state === 'running' || d.session.state === 'queued')) return 'running';
    return 'none';
  }

  function band(pct) {
    if (typeof pct !== 'number') return 'unknown';
    return pct >= 80 ? 'good' : (pct >= 60 ? 'worn' : 'bad');
  }

  function build(tile) {
    const dev = tile.d.device;
    const id = 't-' + dev.replace(/[^A-Za-z0-9_-]/g, '_');
    const p = {};
    p.head = h('div', {class: 'tile-head'});
    p.ids = h('dl', {class: 'ids'});
    p.battery = h('div', {class: 'battery'});
    p.step = h('div', {class: 'step'});
    p.alert = h('div', {class: 'alert', role: 'alert'});
    p.result = h('div', {class: 'result'});
    p.question = h('div', {class: 'question'});
    p.msg = h('p', {class: 'msg', role: 'status', 'aria-live': 'polite'});
    p.ticketIn = h('input', {id: id + '-ticket', name: 'ticket', maxlength: 64, autocomplete: 'off',
      spellcheck: 'false', enterkeyhint: 'done', class: 'ticket-in'});
    p.ticketLabel = h('label', {for: id + '-ticket'});
    p.ticketBtn = h('button', {type: 'submit', class: 'ticket-save'});
    p.ticket = h('form', {class: 'ticket', onsubmit: (e) => { e.preventDefault(); sendTicket(tile); }},
      p.ticketLabel, h('div', {class: 'ticket-row'}, p.ticketIn, p.ticketBtn));
    p.finish = h('button', {type: 'button', class: 'finish', onclick: () => sendFinish(tile)});
    p.links = h('div', {class: 'links'});
    p.histSum = h('summary');
    p.histBody = h('div', {class: 'hist-body'});
    p.hist = h('details', {class: 'history', ontoggle: () => { if (p.hist.open) loadHistory(tile); }},
      p.histSum, p.histBody);
    p.title = h('h3', {id: id + '-h'});
    tile.el = h('article', {class: 'tile', id, 'aria-labelledby': id + '-h', 'data-device': dev},
      p.head, p.ids, p.battery, p.step, p.alert, p.result, p.question, p.ticket,
      h('div', {class: 'actions'}, p.finish), p.msg, p.links, p.hist);
    tile.parts = p;
  }

  function render(tile) {
    if (!tile) return;
    if (!tile.el) build(tile);
    const d = tile.d, p = tile.parts, c = d.case || {};
    const mode = d.mode || 'normal';
    const out = outcomeOf(d);
    tile.el.className = 'tile outcome-' + out + (d.attached === false ? ' unplugged' : '');
    tile.el.dataset.outcome = out;
    tile.el.dataset.session = (d.session && d.session.state) || '';

    // Head: model, mode, result
    p.title.textContent = d.model_name || d.product_type || (mode !== 'normal' ? 'iPhone' : d.device);
    set(p.head, p.title,
      h('span', {class: 'badge mode mode-' + mode, text: t('mode_' + mode.replace(/ /g, '_'))}),
      h('span', {class: 'badge result', text: out === 'none' ? '' : t('outcome_' + out)}),
      d.attached === false ? h('span', {class: 'badge unplugged-badge', text: t('unplugged')}) : null);

    // Identity
    const ids = [];
    const add = (k, v) => { if (v) ids.push(h('dt', {text: t(k)}), h('dd', {text: v})); };
    add('serial', d.serial);
    add('ios', d.ios_version);
    if (mode !== 'normal') add('ecid', d.ecid);
    add('ticket_label', c.ticket);
    set(p.ids, ...ids);

    // Battery, large, with its colour
    const bat = (d.readings && d.readings.battery) || null;
    const pct = bat && typeof bat.health_pct === 'number' ? bat.health_pct : null;
    const crashes = d.readings && d.readings.crashes;
    if (pct !== null) {
      set(p.battery, 
        h('span', {class: 'bat-label', text: t('battery')}),
        h('span', {class: 'bat-pct band-' + band(pct), text: pct + ' %'}),
        typeof bat.cycle_count === 'number' ? h('span', {class: 'bat-cycles', text: t('cycles', {n: bat.cycle_count})}) : null,
        crashes && typeof crashes.panics === 'number' ? h('span', {class: 'panics', text: t('panics', {n: crashes.panics})}) : null);
    } else if (mode === 'normal' && d.session && (d.session.state === 'running' || d.session.state === 'queued')) {
      set(p.battery, h('span', {class: 'bat-label', text: t('battery_unknown')}));
    } else {
      set(p.battery);
    }

    // The step and its progress
    const s = d.session || {};
    if (s.state === 'running' || s.state === 'queued') {
      const kids = [h('span', {class: 'step-text', text: s.step || t('state_' + s.state)})];
      if (typeof s.total === 'number' && s.total > 0) {
        kids.push(h('progress', {max: s.total, value: Math.min(s.done || 0, s.total), 'aria-label': t('progress')}));
      } else if (s.state === 'running') {
        kids.push(h('progress', {'aria-label': t('progress')}));
      }
      set(p.step, ...kids);
    } else if (s.state === 'failed' && s.reason) {
      set(p.step, h('span', {class: 'step-text', text: s.reason}));
    } else {
      set(p.step);
    }

    // Locked, untrusted, recovery, DFU: what to do, in large type
    const codes = (c.faults || []).map((f) => f.code);
    let alertTitle = null, alertText = '';
    if (codes.includes('SYS-003')) {
      // The tree's own words for why (locked, trust pending, ...) when it gave them, else the catalogue's.
      const why = (c.incomplete || []).find((x) => x.tree === 'system' && (x.texts || x.reason));
      alertTitle = t('locked');
      alertText = why ? pick(why.texts, why.reason) : action('SYS-003');
    }
    else if (mode === 'recovery' || codes.includes('SYS-001')) { alertTitle = t('recovery'); alertText = action('SYS-001'); }
    else if (['dfu', 'wtf', 'port dfu', 'port_dfu'].includes(mode) || codes.includes('SYS-002')) { alertTitle = t('dfu'); alertText = action('SYS-002'); }
    if (alertTitle) {
      p.alert.hidden = false;
      set(p.alert, h('strong', {text: alertTitle}), h('span', {text: alertText}));
    } else {
      p.alert.hidden = true;
      set(p.alert);
    }

    // Faults with the part to replace
    if (c.outcome) {
      const faults = (c.faults || []).filter((f) => !['SYS-001', 'SYS-002', 'SYS-003'].includes(f.code));
      const head = h('p', {class: 'rev', text: [t('revision', {n: c.revision || 1}), c.final ? t('final') : null,
        c.delivered ? t('delivered') : null].filter(Boolean).join(' · ')});
      if (faults.length === 0 && out === 'pass') {
        set(p.result, head, h('p', {class: 'no-faults', text: t('no_faults')}));
      } else {
        set(p.result, head, h('ul', {class: 'faults'}, ...faults.map((f) => h('li', {class: 'sev-' + (f.severity || 'info')},
          h('span', {class: 'code', text: f.code}), ' ', h('span', {class: 'ftitle', text: faultTitle(f)}),
          h('span', {class: 'part', text: f.part ? t('replace', {part: partName(f.part)}) : t('no_part', {note: partNote(f.part_note)})})))));
      }
      if (c.waiting && !(c.questions && c.questions.length)) p.result.append(h('p', {class: 'waiting', text: c.waiting}));
    } else {
      set(p.result);
    }

    // The open question, its choices as buttons
    const qs = c.questions || [];
    set(p.question, ...qs.map((q) => h('fieldset', {class: 'q'},
      h('legend', {text: t('question') + ': ' + pick(q.texts, q.text)}),
      h('div', {class: 'choices'}, ...(q.choices || ['yes', 'no']).map((ch) => h('button', {type: 'button', class: 'choice',
        'data-key': q.key, 'data-choice': ch, onclick: () => sendAnswer(tile, q.key, ch)}, ch))))));

    // The ticket field (kept across renders so typing is never lost), Finish, links
    p.ticketLabel.textContent = t('ticket');
    p.ticketIn.placeholder = t('ticket_hint');
    p.ticketBtn.textContent = t('ticket_save');
    const hasCase = !!c.case_id || !!c.report_id;
    p.ticketIn.disabled = !hasCase;
    p.ticketBtn.disabled = !hasCase;
    p.finish.textContent = t('finish');
    p.finish.setAttribute('aria-label', t('finish_label'));
    p.finish.disabled = !c.report_id || !!c.final;
    if (c.report_id) {
      const q = (v) => '/reports/' + encodeURIComponent(c.report_id) + '.html?view=' + v + '&lang=' + lang;
      set(p.links, 
        h('a', {href: q('customer'), target: '_blank', rel: 'noopener', text: t('customer_page')}),
        h('a', {href: q('technician'), target: '_blank', rel: 'noopener', text: t('technician_report')}),
        h('a', {href: '/reports/' + encodeURIComponent(c.report_id) + '.jws.json', target: '_blank', rel: 'noopener', text: t('signed_file')}));
    } else {
      set(p.links);
    }
    showMsg(tile);
    p.histSum.textContent = t('history');
    if (p.hist.open) loadHistory(tile);
  }

  // --------------------------------------------------------------------------------------
  // Actions: each one POST, the server runs the command

  // A message under the tile's buttons, kept as a label key so a language switch translates it.
  function say(tile, key, vars, bad) {
    tile.msg = {key, vars, bad};
    showMsg(tile);
  }
  function showMsg(tile) {
    const m = tile.msg;
    tile.parts.msg.textContent = m ? t(m.key, m.vars) : '';
    tile.parts.msg.className = 'msg' + (m && m.bad ? ' bad' : '');
  }

  async function sendTicket(tile) {
    const v = tile.parts.ticketIn.value.trim();
    if (!v) return;
    const r = await api('POST', '/api/cases/' + encodeURIComponent(tile.d.device) + '/ticket', {ticket: v});
    if (r.ok) { tile.parts.ticketIn.value = ''; say(tile, 'saved'); } else say(tile, 'error', {msg: r.error}, true);
  }

  async function sendAnswer(tile, key, choice) {
    const r = await api('POST', '/api/cases/' + encodeURIComponent(tile.d.device) + '/answers', {answers: {[key]: choice}});
    if (r.ok) say(tile, 'answer_sent'); else say(tile, 'error', {msg: r.error}, true);
  }

  async function sendFinish(tile) {
    const r = await api('POST', '/api/cases/' + encodeURIComponent(tile.d.device) + '/finish', {});
    if (r.ok) say(tile, 'saved'); else say(tile, 'error', {msg: r.error}, true);
  }

  async function loadHistory(tile) {
    const p = tile.parts;
    if (p.histLoading) return;
    p.histLoading = true;
    if (!p.histBody.firstChild) set(p.histBody, h('p', {text: t('history_loading')}));
    const r = await api('GET', '/api/history/' + encodeURIComponent(tile.d.device));
    p.histLoading = false;
    if (!r.ok) { set(p.histBody, h('p', {class: 'msg bad', text: t('error', {msg: r.error})})); return; }
    const rows = r.json.reports || r.json.history || [];
    if (!rows.length) { set(p.histBody, h('p', {text: t('history_none')})); return; }
    const fmt = (s) => { const dt = new Date(s); return isNaN(dt) ? (s || '') : dt.toLocaleString(lang); };
    set(p.histBody, h('table', {class: 'hist'},
      h('thead', {}, h('tr', {}, h('th', {scope: 'col', text: t('when')}), h('th', {scope: 'col', text: t('outcome')}),
        h('th', {scope: 'col', text: t('health')}), h('th', {scope: 'col', text: t('faults')}))),
      h('tbody', {}, ...rows.map((x) => h('tr', {},
        h('td', {}, x.report_id ? h('a', {href: '/reports/' + encodeURIComponent(x.report_id) + '.html?view=technician&lang=' + lang,
          target: '_blank', rel: 'noopener', text: fmt(x.created_at) + (x.revision > 1 ? ' · ' + t('revision', {n: x.revision}) : '')}) : fmt(x.created_at)),
        h('td', {text: t('outcome_' + x.outcome)}),
        h('td', {text: typeof x.health_pct === 'number' ? x.health_pct + ' %' : ''}),
        h('td', {text: (x.fault_codes || x.faults || []).map((f) => (typeof f === 'string' ? f : f.code)).join(', ')}))))));
  }

  // --------------------------------------------------------------------------------------
  // Bookings

  async function loadBookings() {
    const r = await api('GET', '/api/bookings');
    const list = el('booking-list');
    if (!r.ok) { set(list, h('li', {class: 'msg bad', text: t('error', {msg: r.error})})); return; }
    const rows = r.json.bookings || [];
    if (!rows.length) { set(list, h('li', {class: 'none', text: t('bookings_none')})); return; }
    set(list, ...rows.map((b) => h('li', {class: b.used_by ? 'used' : ''},
      h('span', {class: 'bk-ticket', text: b.ticket}), ' ',
      h('span', {class: 'bk-value', text: (b.kind || '') + ' ' + (b.value || '')}), ' ',
      b.lang ? h('span', {class: 'bk-lang', text: b.lang}) : null,
      b.note ? h('span', {class: 'bk-note', text: b.note}) : null,
      b.used_by ? h('span', {class: 'badge', text: t('booking_used')}) : null,
      h('button', {type: 'button', class: 'bk-remove', 'aria-label': t('booking_remove', {ticket: b.ticket}),
        onclick: async () => {
          const x = await api('DELETE', '/api/bookings/' + encodeURIComponent(b.id));
          el('bk-msg').textContent = x.ok ? '' : t('error', {msg: x.error});
          loadBookings();
        }}, '×'))));
  }

  async function addBooking(e) {
    e.preventDefault();
    const body = {ticket: el('bk-ticket').value.trim(), lang: el('bk-lang').value};
    body[el('bk-kind').value] = el('bk-value').value.trim();
    if (el('bk-note').value.trim()) body.note = el('bk-note').value.trim();
    const r = await api('POST', '/api/bookings', body);
    el('bk-msg').textContent = r.ok ? t('saved') : t('error', {msg: r.error});
    el('bk-msg').className = 'msg' + (r.ok ? '' : ' bad');
    if (r.ok) { el('bk-value').value = ''; el('bk-ticket').value = ''; el('bk-note').value = ''; }
    loadBookings();
  }

  // --------------------------------------------------------------------------------------
  // The stream: one per page; after every (re)connect the state is read again

  let refreshTimer = 0;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = 0; loadState(); }, 1000);
  }

  async function loadState() {
    const r = await api('GET', '/api/state');
    if (!r.ok) return false;
    const st = r.json;
    if (started && st.started_at && st.started_at !== started) {
      // A new benchd: a new CSRF token, so a new page.
      setConn('restarted');
      setTimeout(() => location.reload(), 500);
      return 'restarted';
    }
    started = st.started_at || started;
    applyState(st);
    haveState = true;
    const later = buffered.filter((ev) => ev.seq > seq);
    buffered = [];
    later.forEach(apply);
    return true;
  }

  function connect() {
    es = new EventSource('/api/events');
    es.onopen = async () => {
      haveState = false;
      buffered = [];
      // Live only once the state says this is the same benchd: a restarted one means a reload
      // (a new CSRF token), and a form filled in meanwhile would be lost or refused.
      if ((await loadState()) !== 'restarted') setConn('live');
    };
    es.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (!haveState) { buffered.push(ev); return; }
      apply(ev);
    };
    es.onerror = () => {
      setConn('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (the server answered with an error): try again ourselves.
        setTimeout(connect, 2000);
      }
    };
  }

  async function start() {
    const [l, c] = await Promise.all([
      fetch('/assets/labels.json', {cache: 'no-cache'}).then((r) => r.json()).catch(() => ({})),
      api('GET', '/api/catalogue')]);
    labels = l;
    catalogue = c.ok ? c.json : null;
    el('lang').addEventListener('change', () => {
      lang = el('lang').value;
      localStorage.setItem('benchd-lang', lang);
      applyLabels();
    });
    el('booking-form').addEventListener('submit', addBooking);
    applyLabels();
    connect();
  }

  // For tests and the curious: what the page holds (read-only).
  window.benchd = {tiles: () => order.map((k) => tiles.get(k).d), seq: () => seq};
  document.addEventListener('DOMContentLoaded', start);
})();
