// The dashboard: each statechart drawn (Mermaid), every actor of the cluster in
// its current state, live. It reads the API like any client:
//   GET /keelson/v1/statecharts[/NAME?format=mermaid]   the machines
//   GET /keelson/v1/actors                               every actor now
//   GET /keelson/v1/actors?watch=true                    transitions as they happen
// Clicking an actor lights its states in the diagram and shows its history;
// until then each diagram follows the actor that moved last.
// The API wants a credential: the page is opened as /ui#token=TOKEN (what
// `keelson up` prints); the fragment is never sent to the server, the page
// keeps the token for this tab and takes it out of the address bar.
'use strict';

const API = '/keelson/v1';
const TOKEN = takeToken();

function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('keelson-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('keelson-token');
}

/** fetch with the credential, if the page was given one. */
const call = (path, headers = {}) => fetch(path, { headers: TOKEN ? { ...headers, authorization: `Bearer ${TOKEN}` } : headers });
const HISTORY = 10;
const GONE_KEPT_MS = 60_000;

/** key "component|actor" → { component, actor, machine, state, since, history, gone } */
const actors = new Map();
/** machine → { section, diagram, rows, selected, followed, svgReady } */
const charts = new Map();

const $ = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
};

const mermaidId = (stateId) => stateId.replace(/[^A-Za-z0-9]/g, '_');
const keyOf = (a) => `${a.component}|${a.actor}`;
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');

function setStatus(text, cls) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = cls || '';
}

async function getJSON(path) {
  const res = await call(path, { accept: 'application/json' });
  if (res.status === 401) throw new Error(`${path}: HTTP 401: open the page as /ui#token=<token> (keelson up prints it)`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

async function drawCharts() {
  const list = await getJSON(`${API}/statecharts`);
  const main = document.getElementById('charts');
  const nav = document.getElementById('nav');
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', state: { useMaxWidth: true } });
  for (const { name, description } of list.items) {
    const diagram = $('div', { class: 'diagram' }, $('span', { class: 'empty' }, 'drawing…'));
    const rows = $('tbody');
    const section = $(
      'section',
      { class: 'chart', id: `chart-${name}`, 'data-machine': name },
      $('h2', {}, name, $('small', {}, description)),
      diagram,
      $('div', {}, $('table', {}, $('thead', {}, $('tr', {}, $('th', {}, 'actor'), $('th', {}, 'state'), $('th', {}, 'since'))), rows)),
    );
    main.append(section);
    nav.append($('a', { href: `#chart-${name}` }, name));
    charts.set(name, { section, diagram, rows, selected: undefined, followed: undefined, svgReady: false });
  }
  // One at a time: Mermaid's renderer is not reentrant.
  for (const [name, chart] of charts) {
    try {
      const res = await call(`${API}/statecharts/${encodeURIComponent(name)}?format=mermaid`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const { svg } = await mermaid.render(`svg-${name}`, await res.text());
      chart.diagram.innerHTML = svg;
      chart.diagram.setAttribute('data-rendered', 'true');
      chart.svgReady = true;
    } catch (e) {
      chart.diagram.replaceChildren($('div', { class: 'error' }, `could not draw ${name}: ${e.message}`));
    }
    render(name);
  }
}

function applyTransition(t) {
  const key = keyOf(t);
  let a = actors.get(key);
  if (t.to === '') {
    if (!a) return;
    a.gone = true;
    a.state = a.state || t.from;
    a.history.push(t);
    clearTimeout(a.forget);
    a.forget = setTimeout(() => {
      if (actors.get(key)?.gone) {
        actors.delete(key);
        schedule(t.machine);
      }
    }, GONE_KEPT_MS);
  } else {
    if (!a) actors.set(key, (a = { component: t.component, actor: t.actor, machine: t.machine, history: [] }));
    a.gone = false;
    a.state = t.to;
    a.since = t.time;
    a.history.push(t);
  }
  if (a.history.length > HISTORY) a.history.splice(0, a.history.length - HISTORY);
  const chart = charts.get(t.machine);
  if (chart) chart.followed = key;
  schedule(t.machine);
}

const dirty = new Set();
function schedule(machine) {
  if (dirty.size === 0) requestAnimationFrame(() => {
    for (const m of dirty) render(m);
    dirty.clear();
  });
  dirty.add(machine);
}

function render(machine) {
  const chart = charts.get(machine);
  if (!chart) return;
  const mine = [...actors.values()].filter((a) => a.machine === machine).sort((x, y) => x.actor.localeCompare(y.actor) || x.component.localeCompare(y.component));
  const shown = chart.selected && actors.has(chart.selected) ? chart.selected : chart.followed;
  const rows = [];
  for (const a of mine) {
    const key = keyOf(a);
    const row = $(
      'tr',
      {
        class: `actor${key === shown ? ' selected' : ''}${a.gone ? ' gone' : ''}`,
        'data-actor': a.actor,
        'data-component': a.component,
        'data-state': a.gone ? '' : a.state,
        onclick: () => {
          chart.selected = chart.selected === key ? undefined : key;
          render(machine);
        },
      },
      $('td', {}, a.actor, $('br'), $('small', {}, a.component)),
      $('td', { class: 'state' }, a.gone ? `(gone) ${a.state}` : a.state),
      $('td', {}, clock(a.since)),
    );
    rows.push(row);
    if (key === shown) {
      const history = $('ul', { class: 'history' });
      for (const t of a.history) history.append($('li', {}, `${clock(t.time)} ${t.from || '∅'} → ${t.to || '∅'} (${t.event}${t.skipped ? `, +${t.skipped} folded` : ''})`));
      rows.push($('tr', { class: 'details' }, $('td', { colspan: '3' }, history)));
    }
  }
  if (rows.length === 0) rows.push($('tr', {}, $('td', { colspan: '3', class: 'empty' }, 'no actor of this machine runs now')));
  chart.rows.replaceChildren(...rows);
  highlight(machine, shown ? actors.get(shown) : undefined);
}

/** Lights the diagram's states the actor is in (its leaves and their parents). */
function highlight(machine, actor) {
  const chart = charts.get(machine);
  if (!chart?.svgReady) return;
  const svg = chart.diagram.querySelector('svg');
  for (const el of svg.querySelectorAll('.ks-active')) el.classList.remove('ks-active');
  if (!actor || actor.gone || !actor.state) return;
  const wanted = new Set();
  for (const leaf of actor.state.split(', ')) {
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) wanted.add(mermaidId(`${machine}.${parts.slice(0, i).join('.')}`));
  }
  for (const node of svg.querySelectorAll('g[id]')) {
    const m = /^(?:.*?-)?state-(.+)-\d+$/.exec(node.id);
    const id = node.getAttribute('data-id') || (m && m[1]);
    if (id && wanted.has(id)) node.classList.add('ks-active');
  }
}

async function loadActors() {
  const list = await getJSON(`${API}/actors`);
  actors.clear();
  for (const a of list.items) actors.set(keyOf(a), { ...a, history: a.history || [], gone: false });
  for (const m of charts.keys()) render(m);
}

async function follow() {
  for (let pause = 500; ; pause = Math.min(pause * 2, 10_000)) {
    let res;
    let reader;
    try {
      res = await call(`${API}/actors?watch=true`);
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setStatus('live', 'live');
      pause = 500;
      // What happened before the watch began is in the list.
      await loadActors();
      reader = res.body.getReader();
      const text = new TextDecoder();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += text.decode(value, { stream: true });
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!line.trim()) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'TRANSITION') applyTransition(ev.object);
        }
      }
      setStatus('reconnecting…', 'down');
    } catch (e) {
      setStatus(`disconnected (${e.message}); retrying`, 'down');
      // An open stream left behind would hold one of the browser's few connections to the server.
      (reader ?? res?.body)?.cancel().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

drawCharts()
  .then(() => follow())
  .catch((e) => setStatus(`failed: ${e.message}`, 'down'));
