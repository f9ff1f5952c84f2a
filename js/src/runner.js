// estuary's Node runner: one long-lived process answering JSON lines on stdin/stdout.
//
// Request  {"id": 1, "op": "load", "kind": "tfjs" | "onnx" | "onnx-node", "path": "/abs/model.tfjs"}
//          ("onnx": onnxruntime-web wasm; "onnx-node": onnxruntime-node, .onnx or .ort)
// Response {"id": 1, "ok": true, "model": 3, "runtime": {...}, "metadata": "<json>", "golden_max_diff": 0}
//          {"id": 1, "ok": false, "error": {"type": "ArtifactError", "message": "...", "field": null}}
// Other ops: run {model, rows: [[number|null]]} → outputs; encode / predict {model, rows: [{...}]};
// unload {model}; check_rest {model} (the golden rows a load with golden_first: k left); versions; any request may carry "release": [handles] to free; bench {model, row, n, warm} (one-row latency inside Node).
// Non-finite numbers travel as the strings "NaN", "Infinity", "-Infinity" (JSON has none).
//
// It uses the same client library as the browser (estuary.js); only file reading is Node's.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';

// TF.js greets Node users on stdout: keep stdout for the protocol alone.
const toStderr = (...args) => process.stderr.write(`${args.map(String).join(' ')}\n`);
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;

const lib = await import('./estuary.js');
let tf = null;
let ort = null;

async function getTf() {
  if (!tf) {
    tf = await import('@tensorflow/tfjs');
    tf.enableProdMode();
    await tf.setBackend('cpu');
    await tf.ready();
  }
  return tf;
}

async function getOrt() {
  if (!ort) {
    ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
  }
  return ort;
}

let ortNode = null;

async function getOrtNode() {
  if (!ortNode) {
    const m = await import('onnxruntime-node');
    ortNode = m.default || m;
    ortNode.env.logLevel = 'error';
  }
  return ortNode;
}

const models = new Map();
let nextHandle = 1;

const fromJson = (v) => (v === null ? NaN : typeof v === 'string' ? Number(v) : v);
const toJson = (v) => (Number.isFinite(v) ? v : String(v));

function matrix(rows, nColumns) {
  const X = new Float64Array(rows.length * nColumns);
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== nColumns) {
      throw new lib.InvalidInputError('<matrix>', `row ${i} must be an array of ${nColumns} numbers`);
    }
    r.forEach((v, j) => { X[i * nColumns + j] = fromJson(v); });
  });
  return X;
}

function nested(flat, n) {
  const width = flat.length / Math.max(n, 1);
  const out = [];
  for (let i = 0; i < n; i++) out.push(Array.from(flat.subarray(i * width, (i + 1) * width), toJson));
  return out;
}

function getModel(handle) {
  const m = models.get(handle);
  if (!m) throw new lib.EstuaryError(`no model ${handle} is loaded in this runner`);
  return m;
}

/** read(name) of a TF.js directory's files that refuses one resolving outside it (a weight
 * shard replaced by a symlink to /etc/passwd is never read). */
function insideReader(dir) {
  return async (name) => {
    const [root, file] = await Promise.all([fs.realpath(dir), fs.realpath(path.join(dir, name))]);
    if (!file.startsWith(root + path.sep)) {
      throw new lib.ArtifactError(`${name} resolves outside ${dir} (a symlink out of the artifact): refused; re-export it`);
    }
    return fs.readFile(file);
  };
}

const ops = {
  async versions() {
    const t = await getTf();
    const o = await getOrt();
    return { node: process.versions.node, tfjs: t.version.tfjs, tfjs_backend: t.getBackend(), ort: o.env.versions.web };
  },

  // trusted_key: PEM text of an Ed25519 public key: the artifact must be signed by it
  // golden_first: k: only k golden rows on load (as the page's first answer), check_rest the others
  async load({
    kind, path: p, check = true, trusted_key: trustedKey = null, require_golden: requireGolden = true,
    golden_first: goldenFirst = null,
  }) {
    let model;
    if (kind === 'tfjs') {
      model = await lib.loadTfjs(await getTf(), insideReader(p), { check, trustedKey, requireGolden, goldenFirst });
    } else if (kind === 'onnx' || kind === 'onnx-node') {
      let bytes;
      try {
        bytes = await fs.readFile(p);
      } catch (e) {
        throw new lib.ArtifactError(`cannot read ${p}: ${e.code}`);
      }
      const signature = trustedKey ? await fs.readFile(`${p}.sig`).catch(() => null) : null;
      const options = { check, trustedKey, signature, requireGolden, goldenFirst };
      model = kind === 'onnx'
        ? await lib.loadOnnx(await getOrt(), bytes, options)
        : await lib.loadOnnx(await getOrtNode(), bytes, { ...options, provider: 'cpu' });
    } else {
      throw new lib.EstuaryError(`unknown artifact kind '${kind}'`);
    }
    const handle = nextHandle++;
    models.set(handle, model);
    return {
      model: handle, runtime: model.runtime, metadata: model.rawMetadata, golden_max_diff: model.goldenMaxDiff,
      golden_pending: model.goldenPending.length,
    };
  },

  async check_rest({ model }) {
    const m = models.get(model);
    if (!m) throw new lib.EstuaryError(`no model ${model}`);
    return { golden_max_diff: await m.checkGoldenRest(), golden_pending: m.goldenPending.length };
  },

  async unload({ model }) {
    models.delete(model);
    return {};
  },

  async run({ model, rows }) {
    const m = getModel(model);
    const out = await m.runMatrix(matrix(rows, m.encoder.nColumns), rows.length);
    const res = {};
    // 2-D outputs travel as rows (any output longer than one value a row: multilabel labels too)
    for (const [k, v] of Object.entries(out)) res[k] = (k === 'probabilities' || k === 'distances' || v.length !== rows.length) ? nested(v, rows.length) : Array.from(v, toJson);
    return { outputs: res };
  },

  async encode({ model, rows }) {
    const m = getModel(model);
    return {
      rows: rows.map((r) => {
        try {
          return { vector: Array.from(m.encoder.encode(r), toJson) };
        } catch (e) {
          if (e instanceof lib.InvalidInputError) return { error: { field: e.field, message: e.message } };
          throw e;
        }
      }),
    };
  },

  async predict({ model, rows }) {
    return { predictions: await getModel(model).predictMany(rows) };
  },

  async bench({ model, row, n = 1000, warm = 200 }) {
    const m = getModel(model);
    const times = new Float64Array(n);
    for (let i = 0; i < warm; i++) await m.predict(row); // as the page's bench (app.js)
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await m.predict(row);
      times[i] = performance.now() - t0;
    }
    times.sort();
    const q = (f) => times[Math.min(n - 1, Math.floor(f * n))] * 1000;
    return { p50_us: q(0.5), p99_us: q(0.99), n };
  },
};

function errorOf(e) {
  const known = e instanceof lib.EstuaryError;
  return {
    type: known ? e.name : 'InternalError',
    message: known ? e.message : `${e && e.name}: ${e && e.message}`,
    field: e && e.field !== undefined ? e.field : null,
  };
}

const write = (obj) => new Promise((resolve) => {
  if (!process.stdout.write(`${JSON.stringify(obj)}\n`)) process.stdout.once('drain', resolve);
  else resolve();
});

// Requests are answered one at a time, in order (the Python side sends one and waits).
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    await write({ id: null, ok: false, error: { type: 'ProtocolError', message: `bad request line: ${e.message}` } });
    continue;
  }
  const t0 = performance.now();
  for (const h of req.release || []) models.delete(h);
  try {
    const fn = ops[req.op];
    if (!fn) throw new lib.EstuaryError(`unknown op '${req.op}'`);
    const result = await fn(req);
    await write({ id: req.id, ok: true, ms: performance.now() - t0, ...result });
  } catch (e) {
    await write({ id: req.id, ok: false, error: errorOf(e) });
  }
}
