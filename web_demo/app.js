// estuary web demo: the latest published model, run in this page (ONNX via onnxruntime-web, or
// TF.js), swapped for a newer version when the server publishes one — without a reload and
// without a moment with no model: the new version is fetched, loaded and checked against its
// embedded golden vectors first; only then does one assignment replace the model in use.
// A version that fails any check is refused with the reason shown; the previous one stays.
//
// The first model the page shows answers once FIRST_GOLDEN of its golden rows (spread over the
// set, first and last included) reproduce, its bytes checked in full as always; its other golden
// rows run right after that first answer, before anything else, and a failure withdraws it
// (refused, the answer cleared). Every later version is checked in full before its swap.
//
// Query parameters: ?runtime=tfjs (start with TF.js), ?stream=<ms> (event stream period, 0 = off),
// ?progressive=0 (ONNX only: no first answer from TF.js while onnxruntime-web starts; runtimes.js),
// ?golden=all|<k> (the first model checked in full before its first answer, or after k rows: to
// measure the difference), ?ortopt=all|basic (onnxruntime-web's graph optimisations, off by
// default: runtimes.js).
// Everything here is plain ES modules served by `estuary serve`: no build step, no CDN.

import * as lib from 'estuary';
import { api, getRuntime, model as MODEL, models as MODELS, ortOptimization, plan, takeEarly } from './runtimes.js';
import * as charts from './charts.js';

const params = new URLSearchParams(window.location.search);
const config = JSON.parse(document.getElementById('estuary-config')?.textContent || '{}');
const STREAM_MS = Math.max(0, Number(params.get('stream') ?? 800) || 0);
const STREAM_ROWS = 12;
const LOG_ROWS = 40;
// the golden rows a first answer waits for (ARF(10) carries 243: 0.4-0.8 s of TF.js cold, 4 rows ~0.1 s)
const FIRST_GOLDEN = params.get('golden') === 'all' ? null
  : Math.max(1, Math.trunc(Number(params.get('golden'))) || 4);

const RUNTIMES = {
  onnx: 'ONNX · onnxruntime-web (wasm)',
  tfjs: 'TF.js · @tensorflow/tfjs (cpu)',
};

const $ = (id) => document.getElementById(id);
const timings = {}; // ms since navigation start (performance.now()); also per runtime: 'x.onnx'
const mark = (name, runtime) => {
  const now = performance.now();
  for (const key of runtime ? [name, `${name}.${runtime}`] : [name]) if (!(key in timings)) timings[key] = now;
};

const state = {
  current: null, // {version, runtime, model, manifest, loadMs}: replaced as a whole
  runtime: plan.wanted, // the runtime the user wants (a progressive page answers with TF.js first)
  head: null, // the server's {latest, served, refused}
  refused: new Map(), // "version/runtime" → message
  lastError: null,
  swaps: 0,
  triedFirst: false, // a progressive page has tried its first answer (runtimes.js: plan)
  gaps: 0, // predictions wanted while no model was loaded (after the first load): must stay 0
  predictions: 0,
  examples: [],
  exampleSource: '',
  formError: null,
  tfjsNote: null,
};

// ----------------------------------------------------------------------------- runtimes

// ----------------------------------------------------------------------------- loading

/** GET JSON from the server; a failure becomes an ArtifactError carrying the server's reason. */
async function getJson(url) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new lib.ArtifactError(`cannot reach the server for ${url} (${e.message})`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new lib.ArtifactError(`${url}: HTTP ${res.status}, not JSON (${e.message})`);
  }
  if (!res.ok) throw new lib.ArtifactError(`${url}: HTTP ${res.status}: ${body.error || text.slice(0, 200)}`);
  return body;
}

/** read(name) under `base`, revalidated against the server's ETag (the SHA-256). The server
 * verifies a version's hashes before handing out any of its files. */
function reader(base) {
  return async (name) => {
    let res;
    const url = api(base + name);
    try {
      res = await (takeEarly(url) ?? fetch(url, { cache: 'no-cache' }));
    } catch (e) {
      throw new lib.ArtifactError(`cannot fetch ${name} (${e.message})`);
    }
    if (!res.ok) {
      let why = '';
      try { why = (await res.json()).error; } catch { /* not JSON */ }
      throw new lib.ArtifactError(`cannot fetch ${name}: HTTP ${res.status}${why ? ` (${why})` : ''}`);
    }
    return new Uint8Array(await res.arrayBuffer());
  };
}

/** A TF.js artifact's read(name), fetching model.json and then its shards at once (not one by
 * one as the loader asks): the loader gets the same bytes, or the same error, when it asks. */
function prefetching(read) {
  const memo = new Map();
  const get = (name) => {
    if (!memo.has(name)) {
      const p = read(name);
      p.catch(() => {}); // reported when the loader asks for it
      memo.set(name, p);
    }
    return memo.get(name);
  };
  get('model.json').then((bytes) => {
    let doc;
    try { doc = JSON.parse(new TextDecoder().decode(bytes)); } catch { return; } // the loader says why
    for (const group of Array.isArray(doc?.weightsManifest) ? doc.weightsManifest : []) {
      for (const p of Array.isArray(group?.paths) ? group.paths : []) {
        if (typeof p === 'string' && !/[/\\]/.test(p) && !p.startsWith('.')) get(p);
      }
    }
  }, () => {});
  return get;
}

class Unavailable extends lib.EstuaryError {}

/** Why this (checked) manifest's version has no TF.js artifact to run, or null. */
function tfjsUnavailableReason(manifest) {
  const entry = manifest.formats.tfjs;
  if (entry?.file) return null;
  if (entry?.not_applicable) return `TF.js is not available for this model: ${entry.not_applicable.split('\n')[0]}`;
  if (entry?.error) return `TF.js is not available for this model: ${entry.error.split('\n')[0]}`;
  return `TF.js is not available for this model: version ${manifest.version} was published without a ` +
    `TF.js artifact (formats: ${Object.keys(manifest.formats).join(', ') || 'none'}).`;
}

/** Fetch, load and check version `n` in `runtime`; throws if anything is wrong. `goldenFirst`:
 * run only that many golden rows now (finishGolden runs the rest). */
async function loadVersion(n, runtime, { goldenFirst = null } = {}) {
  const t0 = performance.now();
  const base = `/models/${n}/`;
  // the latest version's manifest comes inlined in the page (versions are immutable)
  const manifestP = config.manifest?.version === n ? Promise.resolve(config.manifest)
    : getJson(api(`${base}manifest.json`));
  const runtimeP = getRuntime(runtime);
  runtimeP.catch(() => {}); // awaited below; avoid an unhandled rejection meanwhile
  const manifest = lib.checkManifest(await manifestP, n); // ManifestError names a bad field
  mark('manifestFetched', runtime);
  if (runtime === 'tfjs') {
    const why = tfjsUnavailableReason(manifest);
    if (why) throw new Unavailable(why);
  }
  const entry = manifest.formats[runtime];
  if (!entry?.file) throw new Unavailable(`version ${n} has no ${runtime} artifact`);
  if (!entry.passed) throw new lib.ArtifactError(`version ${n}: its ${runtime} artifact did not pass parity when published`);
  let model;
  // `estuary serve --trusted-key`: the page verifies each artifact's Ed25519 signature too
  const trustedKey = config.trusted_key || null;
  if (runtime === 'onnx') {
    const read = reader(base);
    const sig = trustedKey ? read(`${entry.file}.sig`).catch(() => null) : null;
    const [ort, bytes, signature] = await Promise.all([runtimeP, read(entry.file), sig]);
    mark('runtimeReady', runtime);
    // checks the signature, the embedded SHA-256 and the golden vectors (labels included)
    model = await lib.loadOnnx(ort, bytes, { trustedKey, signature, goldenFirst, optimization: ortOptimization(manifest.task) });
  } else {
    const read = prefetching(reader(`${base}${entry.file}/`)); // while TF.js starts
    const tf = await runtimeP;
    mark('runtimeReady', runtime);
    model = await lib.loadTfjs(tf, read, { trustedKey, goldenFirst }); // + shards (model.json.sig inside)
  }
  if (model.metadata.ir_hash !== manifest.ir_hash) {
    throw new lib.ArtifactError(`the ${runtime} artifact of version ${n} holds IR ${String(model.metadata.ir_hash).slice(0, 12)}, ` +
      `its manifest says ${manifest.ir_hash.slice(0, 12)}: it belongs to another snapshot`);
  }
  mark('modelLoaded', runtime);
  return { version: n, runtime, model, manifest, loadMs: performance.now() - t0 };
}

function release(loaded) {
  // after in-flight predictions on it have finished (they hold their own reference)
  setTimeout(() => {
    try {
      if (loaded.runtime === 'onnx') loaded.model.backend.session.release?.();
      else loaded.model.backend.model.dispose?.();
    } catch { /* already gone */ }
  }, 5000);
}

function swap(next, why, { interim = false } = {}) {
  const previous = state.current;
  state.current = next; // the swap: one assignment, the old model served until this line
  if (!interim) state.runtime = next.runtime; // interim: the first answer, the wanted runtime follows
  state.swaps += previous ? 1 : 0;
  if (previous && previous.model !== next.model) release(previous);
  const rt = next.model.runtime;
  log(`v${next.version} ${why}: ${rt.name} ${rt.version}, loaded and checked in ${next.loadMs.toFixed(0)} ms ` +
    `(golden max diff ${fmtDiff(next.model.goldenMaxDiff)})` + (previous ? ` — replaced v${previous.version} (${previous.runtime})` : ''));
  state.lastError = null;
  renderModel();
  renderForm();
  return predictForm();
}

/** The golden rows a first answer did not wait for, run right after it: true once all
 * reproduce; else the model is withdrawn (refused, its answer cleared) and false. */
async function finishGolden(loaded) {
  const { model } = loaded;
  if (!model.goldenPending.length) return true;
  try {
    await model.checkGoldenRest();
  } catch (e) {
    if (state.current === loaded) {
      state.current = null;
      $('form-result').replaceChildren();
    }
    release(loaded);
    refuse(loaded.version, loaded.runtime, e);
    renderModel();
    return false;
  }
  mark('goldenChecked', loaded.runtime);
  renderModel();
  return true;
}

function refuse(n, runtime, e) {
  const message = `${e.name || 'Error'}: ${e.message}`;
  state.refused.set(`${n}/${runtime}`, message);
  state.lastError = { version: n, runtime, message };
  const keep = state.current ? `still running v${state.current.version} (${state.current.runtime})` : 'no model yet';
  log(`v${n} refused (${RUNTIMES[runtime]}): ${message} — ${keep}`, 'error');
  renderStatus();
}

// One load at a time, in order: a sync and a runtime switch never race.
let chain = Promise.resolve();
function exclusive(fn) {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

let syncQueued = false;
/** Bring the page to the server's latest version in the chosen runtime. */
function sync() {
  if (syncQueued) return chain;
  syncQueued = true;
  return exclusive(async () => {
    syncQueued = false;
    const latest = state.head?.latest;
    const cur = state.current;
    if (latest == null) return;
    if (!cur && plan.progressive && !state.triedFirst) {
      // a progressive page: the first answer from TF.js, while onnxruntime-web starts; start()
      // syncs again once it has answered, and ONNX replaces it (checked first, no gap)
      state.triedFirst = true;
      renderStatus(`loading v${latest} (${RUNTIMES[plan.first]} first, then ${RUNTIMES[state.runtime]})…`);
      try {
        const first = await loadVersion(latest, plan.first, { goldenFirst: FIRST_GOLDEN });
        await swap(first, `answers first in ${RUNTIMES[plan.first]} while ` +
          `${RUNTIMES[state.runtime]} starts`, { interim: true });
        if (await finishGolden(first)) {
          renderStatus();
          return;
        }
      } catch (e) {
        log(`v${latest} could not answer first in ${RUNTIMES[plan.first]} (${e.message}); ` +
          `waiting for ${RUNTIMES[state.runtime]}`, 'warn');
      }
    }
    if (cur && cur.version >= latest && cur.runtime === state.runtime) return;
    if (state.refused.has(`${latest}/${state.runtime}`)) return;
    renderStatus(`loading v${latest} (${RUNTIMES[state.runtime]})…`);
    try {
      // the page's first model answers after a few golden rows, then runs the rest
      const next = await loadVersion(latest, state.runtime, { goldenFirst: state.current ? null : FIRST_GOLDEN });
      await swap(next, state.current ? 'is live' : 'loaded');
      await finishGolden(next);
    } catch (e) {
      refuse(latest, state.runtime, e);
    }
    renderStatus();
  });
}

/** Switch runtime: the current version is loaded in the other runtime first, then swapped. */
function switchRuntime(runtime) {
  if (!(runtime in RUNTIMES)) return Promise.reject(new Error(`unknown runtime ${runtime}`));
  return exclusive(async () => {
    const cur = state.current;
    if (cur && cur.runtime === runtime) { state.runtime = runtime; return true; }
    const n = cur ? cur.version : state.head?.latest;
    if (n == null) { state.runtime = runtime; return true; }
    renderStatus(`loading v${n} in ${RUNTIMES[runtime]}…`);
    try {
      swap(await loadVersion(n, runtime), `now runs in ${RUNTIMES[runtime]}`);
      return true;
    } catch (e) {
      if (e instanceof Unavailable) {
        state.tfjsNote = e.message;
        log(e.message, 'warn');
      } else {
        refuse(n, runtime, e);
      }
      renderModel();
      renderStatus();
      return false;
    }
  }).then((ok) => { sync(); return ok; });
}

// ----------------------------------------------------------------------------- server events

/** A new head from the server; `drawCharts: false` (the page's start) leaves the history charts
 * for later: drawn after the first answer, they do not hold the main thread before it. */
function onHead(head, { drawCharts = true } = {}) {
  const before = state.head;
  state.head = head;
  if (!before || before.latest !== head.latest) {
    if (before && head.latest != null) log(`the server published v${head.latest}`);
    sync();
    if (drawCharts) charts.refresh(); // a publish, a rollback or a pin: the history changed
  }
  renderServer();
}

function listen() {
  // Server-Sent Events; EventSource reconnects by itself. A poll of /models/head backs it up
  // (rarely: SSE normally delivers first) in case a proxy buffers the stream.
  const es = new EventSource(api('/events'));
  es.addEventListener('head', (ev) => onHead(JSON.parse(ev.data)));
  setInterval(async () => {
    try { onHead(await getJson(api('/models/head'))); } catch { /* the server is restarting */ }
  }, 10000);
}

// ----------------------------------------------------------------------------- predictions

async function predictWith(row) {
  const cur = state.current; // this prediction uses this model, whatever swaps meanwhile
  if (!cur) {
    if (state.swaps > 0 || timings.firstPrediction) state.gaps += 1;
    return null;
  }
  const t = performance.now();
  const out = await cur.model.predict(row);
  const ms = performance.now() - t;
  state.predictions += 1;
  charts.addLatency(ms);
  mark('firstPrediction', cur.runtime);
  return { out, ms, version: cur.version, runtime: cur.runtime, classes: cur.model.classes };
}

function topProbability(out, classes) {
  if (!out.probabilities) return null;
  const i = classes.indexOf(out.label);
  return out.probabilities[i >= 0 ? i : 0];
}

const fmtLabel = (v) => (typeof v === 'boolean' ? String(v) : v === null || v === undefined ? '—' : String(v));
const fmtDiff = (d) => (d === null || d === undefined ? '—' : d === 0 ? '0' : d.toExponential(1));
const fmtLatency = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const fmtValue = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : fmtLabel(v));
// a prediction's main answer, whatever the task: a label, a cluster id, a score, a forecast, a value
const mainOf = (out) => ['label', 'cluster', 'score', 'forecast', 'value'].map((k) => out[k]).find((v) => v !== undefined);
const fmtMain = (out) => ('label' in out || 'cluster' in out ? fmtLabel(mainOf(out)) : fmtValue(mainOf(out)));
const FORECAST_STEPS = 24; // the forecast chart's horizon
const SVG = 'http://www.w3.org/2000/svg';

// ----------------------------------------------------------------------------- the form

let formSchemaKey = null;

function renderForm() {
  const cur = state.current;
  if (!cur) return;
  const schema = cur.model.metadata.schema;
  const key = JSON.stringify(schema.features.map((f) => [f.name, f.kind, f.categories || null]));
  if (key === formSchemaKey) return;
  const old = Object.fromEntries(new FormData($('form')).entries());
  formSchemaKey = key;
  const fields = $('fields');
  fields.replaceChildren();
  for (const f of schema.features) {
    const label = document.createElement('label');
    label.className = 'field';
    label.dataset.feature = f.name;
    const name = document.createElement('span');
    name.textContent = f.name;
    let input;
    if (f.kind === 'categorical') {
      input = document.createElement('select');
      const none = new Option('— missing —', '');
      input.append(none, ...f.categories.map((c) => new Option(fmtLabel(c), fmtLabel(c))));
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.inputMode = 'decimal';
      input.placeholder = 'missing';
    }
    input.name = f.name;
    if (old[f.name] !== undefined) input.value = old[f.name];
    label.append(name, input);
    fields.append(label);
  }
  if (!Object.keys(old).length) fillExample(0);
}

let exampleCursor = 0;
function fillExample(i = exampleCursor++) {
  const ex = state.examples.length ? state.examples[i % state.examples.length].x : null;
  if (!ex) return;
  for (const el of $('fields').querySelectorAll('input, select')) {
    const v = Object.prototype.hasOwnProperty.call(ex, el.name) ? ex[el.name] : null;
    el.value = v === null || v === undefined ? '' : fmtLabel(v);
  }
}

let formSeq = 0;
async function predictForm() {
  const cur = state.current;
  if (!cur) return;
  const seq = ++formSeq;
  const entries = Object.fromEntries(new FormData($('form')).entries());
  const row = lib.rowFromForm(cur.model.metadata.schema, entries);
  for (const el of $('fields').querySelectorAll('.field')) el.classList.remove('invalid');
  let got;
  try {
    got = await predictWith(row);
  } catch (e) {
    if (seq !== formSeq) return;
    state.formError = e.message;
    const err = $('form-error');
    err.textContent = e instanceof lib.InvalidInputError
      ? `Cannot predict: ${e.message}. Enter a number, or leave the field empty for a missing value.`
      : `Cannot predict: ${e.name}: ${e.message}`;
    err.hidden = false;
    if (e.field) $('fields').querySelector(`.field[data-feature="${CSS.escape(e.field)}"]`)?.classList.add('invalid');
    $('form-result').replaceChildren();
    return;
  }
  if (seq !== formSeq || !got) return;
  state.formError = null;
  $('form-error').hidden = true;
  renderResult($('form-result'), got);
  if ('forecast' in got.out) await renderForecast($('form-result'), cur, row, seq);
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** An anomaly score as a half-circle gauge (0 left, 1 right: scores beyond are pinned), and a
 * filter's verdict. */
function renderGauge(box, out) {
  const t = Math.min(1, Math.max(0, Number.isFinite(out.score) ? out.score : 0));
  const g = svg('svg', { id: 'score-gauge', viewBox: '0 0 200 110', width: 200, height: 110, 'data-score': out.score });
  g.append(svg('path', { d: 'M10 100 A90 90 0 0 1 190 100', fill: 'none', stroke: '#eef1f5', 'stroke-width': 16 }));
  const a = Math.PI * (1 - t);
  const [x, y] = [100 + 90 * Math.cos(a), 100 - 90 * Math.sin(a)];
  if (t > 0) {
    g.append(svg('path', { d: `M10 100 A90 90 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`, fill: 'none',
      stroke: out.is_anomaly ? '#b42318' : '#2456c7', 'stroke-width': 16, class: 'gauge-fill' }));
  }
  g.append(svg('line', { x1: 100, y1: 100, x2: x.toFixed(2), y2: y.toFixed(2), stroke: '#1d2430', 'stroke-width': 3 }));
  const label = svg('text', { x: 100, y: 92, 'text-anchor': 'middle', 'font-size': 18 });
  label.textContent = fmtValue(out.score);
  g.append(label);
  box.append(g);
  if (out.is_anomaly !== undefined) {
    box.append(Object.assign(document.createElement('p'), {
      id: 'anomaly-flag', className: out.is_anomaly ? 'flag anomalous' : 'flag normal',
      textContent: out.is_anomaly ? 'anomaly' : 'normal' }));
  }
}

/** The forecast for steps 1..FORECAST_STEPS (one row per step, the form's other values as the
 * exogenous features), drawn as a line. */
async function renderForecast(box, cur, row, seq) {
  const rows = Array.from({ length: FORECAST_STEPS }, (_, i) => ({ ...row, step: i + 1 }));
  const values = (await cur.model.predictMany(rows)).map((p) => p.forecast);
  if (seq !== formSeq) return;
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const [W, H] = [460, 160];
  const xy = values.map((v, i) => [20 + (i * (W - 30)) / Math.max(1, values.length - 1),
    H - 20 - ((v - lo) / (hi - lo || 1)) * (H - 40)]);
  const chart = svg('svg', { id: 'forecast-chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H,
    'data-points': JSON.stringify(values) });
  chart.append(svg('polyline', { points: xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '),
    fill: 'none', stroke: '#2456c7', 'stroke-width': 2 }));
  for (const [x, y] of xy) chart.append(svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5, fill: '#2456c7' }));
  const caption = svg('text', { x: 20, y: 14, 'font-size': 12, fill: '#6b7280' });
  caption.textContent = `forecast, steps 1–${values.length}: ${fmtValue(lo)} … ${fmtValue(hi)}`;
  chart.append(caption);
  box.querySelector('#forecast-chart')?.remove();
  box.append(chart);
}

function renderResult(box, got) {
  const { out, ms, version, runtime, classes } = got;
  box.replaceChildren();
  const head = document.createElement('p');
  head.className = 'prediction';
  const value = fmtMain(out);
  head.innerHTML = '';
  head.append('prediction ', Object.assign(document.createElement('strong'), { textContent: value, id: 'form-prediction' }),
    ` · v${version} · ${runtime} · ${fmtLatency(ms)}`);
  box.append(head);
  box.dataset.output = JSON.stringify(out);
  if ('score' in out) renderGauge(box, out);
  if (out.distances) { // a clusterer: the cluster id, and the distance to each centre
    head.querySelector('strong').id = 'cluster-id';
    head.querySelector('strong').dataset.cluster = JSON.stringify(out.cluster);
    const top = Math.max(...out.distances.filter(Number.isFinite), 1e-300);
    const list = document.createElement('div');
    list.className = 'bars distances';
    classes.forEach((c, i) => {
      const row = document.createElement('div');
      row.className = 'bar';
      row.innerHTML = '<span class="cls"></span><span class="track"><span class="fill"></span></span><span class="p"></span>';
      row.querySelector('.cls').textContent = `centre ${fmtLabel(c)}`;
      row.querySelector('.fill').style.width = `${(100 * Math.min(1, out.distances[i] / top)).toFixed(2)}%`;
      row.querySelector('.p').textContent = fmtValue(out.distances[i]);
      list.append(row);
    });
    box.append(list);
  }
  if (out.probabilities) {
    const list = document.createElement('div');
    list.className = 'bars';
    classes.forEach((c, i) => {
      const p = out.probabilities[i];
      const row = document.createElement('div');
      row.className = 'bar';
      row.innerHTML = '<span class="cls"></span><span class="track"><span class="fill"></span></span><span class="p"></span>';
      row.querySelector('.cls').textContent = fmtLabel(c);
      row.querySelector('.fill').style.width = `${(100 * p).toFixed(2)}%`;
      row.querySelector('.p').textContent = p.toFixed(6);
      list.append(row);
    });
    box.append(list);
  }
}

// ----------------------------------------------------------------------------- the stream

async function loadExamples() {
  try {
    const body = await getJson(api('/examples?n=64'));
    if (body.rows?.length) {
      state.examples = body.rows.filter((r) => r && typeof r.x === 'object');
      state.exampleSource = body.source;
    }
  } catch { /* keep the ones we have */ }
  if (!state.examples.length && state.current) {
    // fall back to the golden rows embedded in the artifact, decoded from the schema
    state.examples = goldenRows(state.current.model).map((x) => ({ x }));
    state.exampleSource = 'golden rows';
  }
  $('stream-source').textContent = state.examples.length
    ? `(examples from ${state.exampleSource}, one every ${STREAM_MS} ms)` : '(no examples yet)';
}

function goldenRows(model) {
  const rows = [];
  for (const vec of model.metadata.golden_inputs) {
    const row = {};
    let at = 0;
    for (const f of model.metadata.schema.features) {
      if (f.kind === 'categorical') {
        const j = vec.slice(at, at + f.categories.length).indexOf(1);
        if (j >= 0) row[f.name] = f.categories[j];
        at += f.categories.length;
      } else {
        if (vec[at] !== null) row[f.name] = vec[at];
        at += 1;
      }
    }
    rows.push(row);
  }
  return rows;
}

let streamCount = 0;
let streamCursor = 0;
async function streamTick() {
  if (!state.examples.length) return;
  const ev = state.examples[streamCursor++ % state.examples.length];
  let got;
  let error = null;
  try {
    got = await predictWith(ev.x);
  } catch (e) {
    error = e.message;
  }
  if (!got && !error) return;
  streamCount += 1;
  const tr = document.createElement('tr');
  const summary = Object.entries(ev.x).slice(0, 4).map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ') +
    (Object.keys(ev.x).length > 4 ? ', …' : '');
  const cells = got
    ? [streamCount, `v${got.version}`, got.runtime, summary, fmtLabel(ev.y),
      fmtMain(got.out),
      got.out.probabilities ? topProbability(got.out, got.classes).toFixed(4) : '', fmtLatency(got.ms)]
    : [streamCount, '', '', summary, fmtLabel(ev.y), error, '', ''];
  for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: String(c) }));
  if (got && ev.y !== undefined && got.out.probabilities) tr.className = got.out.label === ev.y ? 'hit' : 'miss';
  const body = $('events').tBodies[0];
  body.prepend(tr);
  while (body.rows.length > STREAM_ROWS) body.deleteRow(-1);
}

// ----------------------------------------------------------------------------- rendering

function log(text, level = 'info') {
  const li = document.createElement('li');
  li.className = `log-${level}`;
  const time = new Date().toLocaleTimeString();
  li.textContent = `${time} ${text}`;
  $('log').prepend(li);
  while ($('log').children.length > LOG_ROWS) $('log').lastElementChild.remove();
}

function renderStatus(loading) {
  const el = $('status');
  const cur = state.current;
  el.className = 'status';
  if (loading) {
    el.classList.add('loading');
    el.textContent = cur ? `v${cur.version} live (${cur.runtime}) · ${loading}` : loading;
  } else if (state.lastError) {
    el.classList.add('error');
    const e = state.lastError;
    el.textContent = `v${e.version} refused in ${e.runtime}: ${e.message}` +
      (cur ? ` — v${cur.version} (${cur.runtime}) keeps running` : '');
  } else if (cur) {
    el.classList.add('ok');
    el.textContent = `v${cur.version} live in ${RUNTIMES[cur.runtime]}`;
  } else {
    el.textContent = state.head && state.head.latest == null ? 'waiting for the first published version…' : 'loading…';
  }
  el.dataset.version = cur ? cur.version : '';
}

function renderServer() {
  const h = state.head;
  if (!h) return;
  const refused = Object.keys(h.refused || {});
  $('server').textContent = `latest published v${h.latest ?? '—'}, serving /predict with v${h.served ?? '—'}` +
    (refused.length ? ` · refused ${refused.map((n) => `v${n}`).join(', ')}` : '');
  $('server').title = Object.entries(h.refused || {}).map(([n, why]) => `v${n}: ${why}`).join('\n');
}

function renderModel() {
  const cur = state.current;
  renderStatus();
  renderServer();
  if (!cur) return;
  const { manifest, model } = cur;
  const rt = model.runtime;
  $('version').textContent = `v${cur.version}`;
  $('ir-hash').textContent = manifest.ir_hash;
  $('runtime').textContent = `${rt.name} ${rt.version} (${rt.backend}${cur.runtime === 'onnx' ? ', 1 thread' : ''})`;
  $('source').textContent = `${manifest.source} · ${manifest.task}${model.classes?.length ? ` · classes ${model.classes.map(fmtLabel).join(', ')}` : ''}`;
  $('snapshot').textContent = `${manifest.n_events} events · ${manifest.created_at} · ${manifest.reason} · River ${manifest.river_version}`;
  const nGolden = model.metadata.golden_inputs.length;
  const pending = model.goldenPending.length;
  $('golden').textContent = `${pending ? `${nGolden - pending} of ${nGolden} (the rest being checked)` : nGolden} rows reproduced here, max diff ${fmtDiff(model.goldenMaxDiff)} ` +
    `(${model.metadata.precision}, tolerance ${lib.TOLERANCE[model.metadata.precision]})`;
  for (const input of document.querySelectorAll('input[name=runtime]')) input.checked = input.value === cur.runtime;
  const why = tfjsUnavailableReason(manifest);
  const tfjsRadio = document.querySelector('input[name=runtime][value=tfjs]');
  tfjsRadio.disabled = Boolean(why);
  state.tfjsNote = why;
  $('tfjs-note').hidden = !why;
  $('tfjs-note').textContent = why || '';
  const body = $('parity').tBodies[0];
  body.replaceChildren();
  for (const [fmt, e] of Object.entries(manifest.formats)) {
    const r = e.report || {};
    const tr = document.createElement('tr');
    tr.className = e.passed ? 'pass' : (e.not_applicable ? 'na' : 'fail');
    const cells = [fmt, e.passed ? 'pass' : e.not_applicable ? 'not applicable' : `FAIL${e.error ? `: ${e.error.split('\n')[0]}` : ''}`, r.n_rows ?? '—',
      r.label_agreement === undefined || r.label_agreement === null ? '—' : `${+(100 * r.label_agreement).toFixed(1)}%`,
      fmtDiff(r.max_abs_diff), r.precision ? `${r.precision} (tol ${r.tolerance})` : '—', r.runtime || '—'];
    for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: String(c) }));
    body.append(tr);
  }
}

// ----------------------------------------------------------------------------- start

/** The model switch (a server of many named models): another model reloads the page for it. */
function setupModelSwitch() {
  const select = $('model-switch');
  if (!MODELS.length) return;
  select.replaceChildren(...MODELS.map((name) => new Option(name, name, false, name === MODEL)));
  $('model-pick').hidden = false;
  select.addEventListener('change', () => {
    const query = new URLSearchParams(window.location.search);
    query.set('model', select.value);
    window.location.search = query.toString(); // the page, its artifact and its events, anew
  });
}

async function start() {
  mark('appStarted');
  setupModelSwitch();
  if (config.missing?.length) {
    log(`the server lacks ${config.missing.join(', ')}: run \`${config.install}\``, 'error');
  }
  // runtimes.js has started the runtime that answers first (plan.first)
  const examplesP = loadExamples();
  let head = config.head || null; // inlined by the server: saves a round trip
  if (!head) {
    try {
      head = await getJson(api('/models/head'));
    } catch (e) {
      log(`cannot read the server's head: ${e.message}`, 'error');
    }
  }
  if (head) onHead(head, { drawCharts: false }); // uPlot and /models/history: after the first answer
  listen();
  await sync();
  await examplesP;
  if (!state.examples.length) await loadExamples();
  renderForm();
  fillExample(0);
  await predictForm(); // the first prediction (timings.firstPrediction)
  if (head) charts.refresh(); // (~60 ms of uPlot on the main thread cold: not before that answer)
  if (state.current && state.current.runtime !== state.runtime) {
    await sync(); // a progressive page: now onnxruntime-web, checked, then swapped in
    await predictForm(); // (timings['firstPrediction.onnx'])
  }
  if (STREAM_MS > 0) {
    setInterval(streamTick, STREAM_MS);
    setInterval(loadExamples, 15000);
  }
  if (!state.current) throw new lib.EstuaryError(state.lastError ? state.lastError.message : 'no published version yet');
  return snapshotState();
}

function snapshotState() {
  const cur = state.current;
  return {
    model: MODEL,
    models: MODELS,
    version: cur ? cur.version : null,
    runtime: cur ? cur.runtime : null,
    runtimeInfo: cur ? cur.model.runtime : null,
    irHash: cur ? cur.manifest.ir_hash : null,
    goldenMaxDiff: cur ? cur.model.goldenMaxDiff : null,
    goldenPending: cur ? cur.model.goldenPending.length : null, // rows a first answer did not wait for
    head: state.head,
    refused: Object.fromEntries(state.refused),
    swaps: state.swaps,
    plan,
    gaps: state.gaps,
    predictions: state.predictions,
    streamed: streamCount,
    formError: state.formError,
    tfjsNote: state.tfjsNote,
    tfjsAvailable: !document.querySelector('input[name=runtime][value=tfjs]').disabled,
    timings: { ...timings },
  };
}

$('form').addEventListener('submit', (ev) => { ev.preventDefault(); predictForm(); });
$('form').addEventListener('input', () => predictForm());
$('fill-example').addEventListener('click', () => { fillExample(); predictForm(); });
for (const input of document.querySelectorAll('input[name=runtime]')) {
  input.addEventListener('change', () => {
    if (input.checked) switchRuntime(input.value).then(() => renderModel());
  });
}

const ready = start();
ready.catch((e) => { log(`${e.name}: ${e.message}`, 'error'); renderStatus(); });

/** For tests and benchmarks (and the curious, from the console). */
window.estuary = {
  ready,
  lib,
  state: snapshotState,
  switchRuntime,
  /** The history charts: refresh() redraws from /models/history; describe() → points, series. */
  charts: { refresh: charts.refresh, describe: charts.describe },
  /** Predictions of the model in use on River-style rows (one batch). */
  async predict(rows) {
    const cur = state.current;
    if (!cur) throw new lib.EstuaryError('no model loaded');
    return { version: cur.version, runtime: cur.runtime, predictions: await cur.model.predictMany(rows) };
  },
  /** One-row latency of the model in use: `n` calls of predict(row), each timed. */
  async bench(row, n = 2000, warm = 200) {
    const model = state.current.model;
    for (let i = 0; i < warm; i++) await model.predict(row);
    const times = new Float64Array(n);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await model.predict(row);
      times[i] = performance.now() - t;
    }
    const total = performance.now() - t0;
    times.sort();
    const q = (f) => times[Math.min(n - 1, Math.floor(f * n))] * 1000;
    return { p50_us: q(0.5), p99_us: q(0.99), mean_us: (total / n) * 1000, n, isolated: window.crossOriginIsolated };
  },
};
