// estuary web demo: the store's history at a glance, drawn with uPlot (served locally from
// js/node_modules like the runtimes; no CDN). Data: GET /models/history (every version's
// events, trigger, parity per format, metrics), redrawn when the server's head changes, and
// this browser's own prediction latencies. uPlot is imported on first use: a page whose server
// lacks it still predicts, and says why it has no charts.

import { api } from './runtimes.js';

const FLOOR = 1e-17; // a max |diff| of exactly 0, on a log axis
const COLORS = ['#2456c7', '#0f7b45', '#b42318', '#8a5a00', '#6b21a8', '#0e7490', '#be185d'];
const TRIGGER_COLORS = { N: '#2456c7', T: '#0e7490', drift: '#b42318', manual: '#6b7280', end: '#8a5a00', other: '#6b21a8' };
// manifest metrics that are bookkeeping, not the Learner's prequential metric
const BOOKKEEPING = new Set(['events', 'events_per_second', 'stall_ms', 'export_seconds', 'snapshots',
  'coalesced', 'rejected', 'drifts']);
// latency bins (ms), log-spaced: one-row predictions take ~10 µs to a few ms
const EDGES = [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, Infinity];

const charts = {}; // name → uPlot instance
const latencies = [];
let uPlot = null;
let history = null;
let pending = null;
let latencyTimer = null;

const $ = (id) => document.getElementById(id);

async function load() {
  if (uPlot) return uPlot;
  const url = import.meta.resolve('uplot');
  const css = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: url.replace(/[^/]+$/, 'uPlot.min.css') });
  document.head.append(css);
  uPlot = (await import('uplot')).default;
  return uPlot;
}

function note(text) {
  const el = $('charts-note');
  el.hidden = !text;
  el.textContent = text || '';
}

function draw(name, opts, data) {
  const box = $(`chart-${name}`);
  charts[name]?.destroy();
  box.querySelector('.empty')?.remove();
  const width = Math.max(260, box.clientWidth - 4);
  charts[name] = new uPlot({ width, height: 200, legend: { live: false }, ...opts }, data, box);
  box.dataset.points = String(data[0].length);
}

function empty(name, text) {
  charts[name]?.destroy();
  delete charts[name];
  const box = $(`chart-${name}`);
  box.dataset.points = '0';
  if (!box.querySelector('.empty')) box.append(Object.assign(document.createElement('p'), { className: 'empty hint' }));
  box.querySelector('.empty').textContent = text;
}

const xVersion = { scales: { x: { time: false } }, axes: [{ label: 'version', incrs: [1, 2, 5, 10, 20, 50, 100] }, {}] };
const line = (label, i, extra = {}) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 6 }, spanGaps: true, ...extra });

function drawParity(published) {
  const formats = [...new Set(published.flatMap((v) => Object.keys(v.parity)))].sort()
    .filter((f) => published.some((v) => typeof v.parity[f].max_abs_diff === 'number'));
  const xs = published.map((v) => v.number);
  const diff = (v, f) => {
    const d = v.parity[f]?.max_abs_diff;
    return typeof d === 'number' ? Math.max(d, FLOOR) : null;
  };
  draw('parity', {
    ...xVersion,
    scales: { x: { time: false }, y: { distr: 3, log: 10 } },
    axes: [xVersion.axes[0], { label: 'max |diff|', size: 60, values: (u, ticks) => ticks.map((t) => (t == null ? '' : t.toExponential(0))) }],
    series: [{ label: 'version' }, ...formats.map((f, i) => line(f, i))],
  }, [xs, ...formats.map((f) => xs.map((_, j) => diff(published[j], f)))]);
  const labelled = formats.filter((f) => published.some((v) => typeof v.parity[f]?.label_agreement === 'number'));
  if (!labelled.length) return empty('labels', 'a regressor: no labels to agree on');
  draw('labels', {
    ...xVersion,
    scales: { x: { time: false }, y: { range: (u, lo, hi) => [Math.min(lo, 99), 100] } },
    axes: [xVersion.axes[0], { label: 'label agreement (%)', size: 60 }],
    series: [{ label: 'version' }, ...labelled.map((f, i) => line(f, i))],
  }, [xs, ...labelled.map((f) => published.map((v) => {
    const a = v.parity[f]?.label_agreement;
    return typeof a === 'number' ? 100 * a : null;
  }))]);
}

function drawMetric(published) {
  const names = [...new Set(published.flatMap((v) => Object.keys(v.metrics)))].sort()
    .filter((k) => !BOOKKEEPING.has(k) && published.some((v) => typeof v.metrics[k] === 'number'));
  if (!names.length) return empty('metric', 'no prequential metric in the manifests: Learner(model, metric=metrics.Accuracy())');
  const xs = published.map((v) => v.number);
  draw('metric', {
    ...xVersion,
    axes: [xVersion.axes[0], { label: names.join(', '), size: 60 }],
    series: [{ label: 'version' }, ...names.map((k, i) => line(k, i))],
  }, [xs, ...names.map((k) => published.map((v) => (typeof v.metrics[k] === 'number' ? v.metrics[k] : null)))]);
}

function drawEvents(versions) {
  const xs = versions.map((v) => v.number);
  const kinds = [...new Set(versions.map((v) => v.trigger))].sort();
  draw('events', {
    ...xVersion,
    axes: [xVersion.axes[0], { label: 'events learned', size: 70 }],
    series: [{ label: 'version' }, { label: 'events', stroke: '#9ca3af', width: 1, points: { show: false } },
      ...kinds.map((k) => ({ label: k === 'drift' ? 'drift ▲' : k, stroke: TRIGGER_COLORS[k] || '#6b21a8', width: 0,
        paths: () => null, points: { show: true, size: k === 'drift' ? 11 : 7, fill: TRIGGER_COLORS[k] || '#6b21a8' } }))],
  }, [xs, versions.map((v) => v.n_events), ...kinds.map((k) => versions.map((v) => (v.trigger === k ? v.n_events : null)))]);
}

function drawLatency() {
  if (!uPlot) return;
  if (!latencies.length) return empty('latency', 'no prediction in this page yet');
  const counts = new Array(EDGES.length - 1).fill(0);
  for (const ms of latencies) counts[EDGES.findIndex((e, i) => ms >= e && ms < EDGES[i + 1])] += 1;
  const label = (i) => (EDGES[i] < 1 ? `${EDGES[i] * 1000}µs` : `${EDGES[i]}ms`);
  draw('latency', {
    scales: { x: { time: false } },
    axes: [{ label: `one-row latency (${latencies.length} predictions)`, values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) && t < EDGES.length - 1 ? label(t) : '')) }, { label: 'predictions', size: 50 }],
    series: [{ label: 'from' }, { label: 'predictions', fill: '#2456c766', stroke: '#2456c7', paths: uPlot.paths.bars({ size: [0.9] }), points: { show: false } }],
  }, [counts.map((_, i) => i), counts]);
}

async function render() {
  const published = history.versions.filter((v) => v.status === 'published');
  if (!published.length) {
    for (const name of ['parity', 'labels', 'metric']) empty(name, 'no published version yet');
  } else {
    drawParity(published);
    drawMetric(published);
  }
  const known = history.versions.filter((v) => v.status !== 'unreadable');
  if (known.length) drawEvents(known); else empty('events', 'no version yet');
  drawLatency();
}

/** Fetch /models/history and redraw (calls while one runs are folded into one more). */
export function refresh() {
  if (pending) { pending.again = true; return pending.done; }
  pending = { again: false };
  pending.done = (async () => {
    try {
      do {
        pending.again = false;
        await load();
        const r = await fetch(api('/models/history'), { cache: 'no-store' });
        if (!r.ok) throw new Error(`/models/history answered ${r.status}`);
        history = await r.json();
        await render();
      } while (pending.again);
      note('');
    } catch (e) {
      note(`charts unavailable: ${e.message}`);
    } finally {
      pending = null;
    }
  })();
  return pending.done;
}

/** One prediction's latency (ms), for the histogram (redrawn at most once a second). */
export function addLatency(ms) {
  latencies.push(ms);
  if (latencies.length > 100000) latencies.splice(0, 50000);
  if (!latencyTimer) latencyTimer = setTimeout(() => { latencyTimer = null; drawLatency(); }, 1000);
}

/** For tests: each chart's number of points and series labels. */
export function describe() {
  return Object.fromEntries(Object.entries(charts).map(([name, u]) => [name, {
    points: u.data[0].length,
    series: u.series.slice(1).map((s) => s.label),
    values: u.data.slice(1).map((ys) => Array.from(ys)),
  }]));
}
