// estuary's JavaScript client: runs an exported River model in the browser or in Node.
//
// One ES module, no bare imports: the caller hands in the runtime it loaded
// (`import * as tf from '@tensorflow/tfjs'` or `import * as ort from 'onnxruntime-web'`) and a
// `read(name)` function that returns the bytes of a file of the artifact (use `httpReader(url)`
// in the browser; the Node runner reads files with fs).
//
//   const model = await loadTfjs(tf, httpReader('/models/latest.tfjs/'));
//   const model = await loadOnnx(ort, await httpReader('/models/')('latest.onnx'));
//   await model.predict({ x: 1.5, colour: 'red' });  // {label, probabilities} or {value}
//
// A model is refused (GoldenCheckError) when the golden vectors embedded at export time (a few
// input rows with the River model's own outputs) do not reproduce in this runtime.
//
// Rows follow estuary/rows.py: an absent key (or null/undefined) is missing (NaN); unknown keys
// are ignored; a categorical value matches a category by its string form (booleans as Python
// writes them, 'True'/'False'); an unseen category gives all-zero columns; NaN, a non-number for
// a numeric feature, or an array/object for a categorical one throws InvalidInputError naming
// the feature. (JS cannot tell 1 from 1.0: a numeric category matches either.)

import { artifactSha256, integrityProblem, signatureProblem } from './verify.js';

export const METADATA_KEY = 'estuary';
export const METADATA_VERSION = 1;
export const TOLERANCE = { float64: 1e-9, float32: 1e-5 };  // as estuary/runtimes/base.py

export class EstuaryError extends Error {
  constructor(message) { super(message); this.name = this.constructor.name; }
}
/** The artifact is missing, corrupt, truncated or not what it claims to be. */
export class ArtifactError extends EstuaryError {}
/** The embedded golden vectors do not reproduce: the model must not be served. */
export class GoldenCheckError extends ArtifactError {}
/** The artifact's bytes are not the bytes it was exported with (its embedded SHA-256). */
export class IntegrityError extends ArtifactError {}
/** A trusted key is set and the artifact is unsigned, signed by another key, or changed. */
export class SignatureError extends ArtifactError {}
/** The artifact embeds no golden vectors (load with {requireGolden: false} to accept that). */
export class NoGoldenVectorsError extends ArtifactError {}
/** A row has a bad value; `field` names the feature. */
export class InvalidInputError extends EstuaryError {
  constructor(field, message) { super(`feature '${field}': ${message}`); this.field = field; }
}
/** ±Infinity, or beyond ±3.4e38 for a float32 artifact: refused before the runtime sees it. */
export class OutOfRangeError extends InvalidInputError {}
export const FLOAT32_MAX = 3.4028234663852886e38;
/** A store version's manifest.json, checked field by field (ManifestError names the field). */
export { checkManifest, ManifestError, MANIFEST_SCHEMA_VERSION } from './manifest.js';
export { artifactSha256, integrityProblem, signatureProblem, keyId, publicKeyBytes } from './verify.js';

// ----------------------------------------------------------------------------- metadata

/** Parse and check the estuary metadata JSON string embedded in every artifact. */
export function parseMetadata(text, where = 'artifact') {
  let meta;
  try {
    meta = typeof text === 'string' ? JSON.parse(text) : text;
  } catch (e) {
    throw new ArtifactError(`${where}: unreadable estuary metadata (${e.message})`);
  }
  if (meta === null || typeof meta !== 'object') {
    throw new ArtifactError(`${where}: estuary metadata is not an object`);
  }
  if (meta.metadata_version !== METADATA_VERSION) {
    throw new ArtifactError(`${where}: estuary metadata version ${meta.metadata_version} is not ` +
      `${METADATA_VERSION}: re-export the model with this estuary version`);
  }
  for (const k of ['schema', 'task', 'classes', 'golden_inputs', 'golden_outputs']) {
    if (!(k in meta)) throw new ArtifactError(`${where}: estuary metadata lacks '${k}'`);
  }
  meta.precision = meta.precision || 'float64';
  return meta;
}

// ----------------------------------------------------------------------------- rows

const pyStr = (v) => (v === true ? 'True' : v === false ? 'False' : String(v));

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Turns River-style objects into the artifact's input matrix, following the schema. */
export class RowEncoder {
  // maxAbs: the largest magnitude a number may have (FLOAT32_MAX for a float32 artifact);
  // beyond it, or not finite, is OutOfRangeError (the range policy of estuary/rows.py)
  constructor(schema, { maxAbs = Number.MAX_VALUE } = {}) {
    this.maxAbs = maxAbs;
    this.plan = [];
    let start = 0;
    for (const f of schema.features) {
      const categorical = f.kind === 'categorical';
      const width = categorical ? f.categories.length : 1;
      const lookup = new Map();
      if (categorical) f.categories.forEach((c, i) => { if (!lookup.has(pyStr(c))) lookup.set(pyStr(c), i); });
      this.plan.push({ name: f.name, key: String(f.key), categorical, start, width, lookup });
      start += width;
    }
    this.nColumns = start;
    this.columns = schema.features.flatMap((f) => (f.kind === 'categorical'
      ? f.categories.map((c) => `${f.name}=${pyStr(c)}`) : [f.name]));
  }

  /** Encode one row into `out` (a Float64Array of nColumns, or a fresh one). */
  encode(row, out = new Float64Array(this.nColumns), offset = 0) {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new InvalidInputError('<row>', `a row must be an object, not ${describe(row)}`);
    }
    out.fill(NaN, offset, offset + this.nColumns);
    for (const p of this.plan) {
      let value = Object.prototype.hasOwnProperty.call(row, p.key) ? row[p.key] : undefined;
      if (value === undefined && p.name !== p.key && Object.prototype.hasOwnProperty.call(row, p.name)) {
        value = row[p.name];
      }
      if (value === undefined || value === null) continue;
      const at = offset + p.start;
      if (p.categorical) {
        if (typeof value === 'object' || typeof value === 'function') {
          throw new InvalidInputError(p.name, `expected a category, got ${describe(value)}`);
        }
        out.fill(0, at, at + p.width);
        const hit = p.lookup.get(pyStr(value));
        if (hit !== undefined) out[at + hit] = 1;
      } else {
        out[at] = toNumber(p.name, value, this.maxAbs);
      }
    }
    return out;
  }

  /** Encode rows into one row-major Float64Array [rows.length * nColumns]. */
  encodeMany(rows) {
    const out = new Float64Array(rows.length * this.nColumns);
    rows.forEach((r, i) => this.encode(r, out, i * this.nColumns));
    return out;
  }
}

function toNumber(name, value, maxAbs = Number.MAX_VALUE) {
  let v;
  if (typeof value === 'number') v = value;
  else if (typeof value === 'boolean') v = value ? 1 : 0;
  else if (typeof value === 'bigint') v = Number(value);
  else throw new InvalidInputError(name, `expected a number, got ${describe(value)} ${JSON.stringify(value)}`);
  if (Number.isNaN(v)) {
    throw new InvalidInputError(name, 'NaN is not a value: leave the key out to mark it missing');
  }
  if (!Number.isFinite(v)) {
    throw new OutOfRangeError(name, `${v > 0 ? 'inf' : '-inf'} is not a value the formats agree on ` +
      '(each would answer it differently): send a finite number, or leave the key out to mark it missing');
  }
  if (Math.abs(v) > maxAbs) {
    throw new OutOfRangeError(name, `${Number(v.toPrecision(3))} is beyond ±3.4e+38, the float32 range this ` +
      'format computes in (it would be infinity there): scale it, or use a float64 format (ONNX, PMML) for such values');
  }
  return v;
}

/** Form values (strings) → a row: '' is missing, numeric text becomes a number for numeric
 * features, anything else is kept so that `encode` names the field in its error. */
export function rowFromForm(schema, entries) {
  const numeric = new Set(schema.features.filter((f) => f.kind === 'numeric').map((f) => f.name));
  const row = {};
  for (const [k, raw] of Object.entries(entries)) {
    const s = typeof raw === 'string' ? raw.trim() : raw;
    if (s === '' || s === undefined || s === null) continue;
    if (numeric.has(k) && typeof s === 'string') {
      const v = Number(s);
      row[k] = Number.isNaN(v) ? s : v;
    } else {
      row[k] = s;
    }
  }
  return row;
}

// ----------------------------------------------------------------------------- the model

// each task's artifact outputs (estuary/ir/tasks.py), the main one first
const TASK_OUTPUTS = { classification: ['probabilities', 'label'], regression: ['value'], cluster: ['distances', 'cluster'], anomaly: ['score'], forecast: ['forecast'], reco: ['score'] };
const INDEX_OUTPUTS = new Set(['label', 'cluster', 'is_anomaly']); // int64: indices into `classes` (is_anomaly: 0/1)
const PER_CLASS_OUTPUTS = new Set(['probabilities', 'distances']); // one column per class / centre
// per-target tasks: `<output>.<target>` for each target in `classes` (estuary/ir/tasks.py)
const PER_TARGET = { multilabel: ['label', 'probabilities'], multitarget: ['value'] };

/** The artifact's output names for the metadata's task. */
function outputNames(metadata) {
  const per = PER_TARGET[metadata.task];
  if (per) return metadata.classes.flatMap((t) => per.map((o) => `${o}.${t}`));
  return TASK_OUTPUTS[metadata.task] || ['value'];
}

/** A per-target task's golden layout: every target's probabilities (2) or value (1) side by
 * side, row by row, as [values, width]. */
function targetRows(metadata, out, n) {
  const kind = PER_TARGET[metadata.task].includes('probabilities') ? 'probabilities' : 'value';
  const w = kind === 'probabilities' ? 2 : 1;
  const width = metadata.classes.length * w;
  const got = new Float64Array(n * width);
  metadata.classes.forEach((t, k) => {
    const a = out[`${kind}.${t}`];
    for (let i = 0; i < n; i++) for (let j = 0; j < w; j++) got[i * width + k * w + j] = a[i * w + j];
  });
  return [got, width];
}

function within(got, expected, tol) {
  if (Number.isNaN(got) && Number.isNaN(expected)) return true;
  return got === expected || Math.abs(got - expected) <= tol * Math.max(1, Math.abs(expected));
}

/** An artifact ready to predict; built by `loadTfjs` / `loadOnnx`. */
export class EstuaryModel {
  constructor(backend, metadata, format) {
    this.backend = backend; // {info: {name, version}, run(Float64Array, n) → Promise<outputs>}
    this.metadata = metadata;
    this.format = format;
    this.encoder = new RowEncoder(metadata.schema,
      { maxAbs: metadata.precision === 'float32' ? FLOAT32_MAX : Number.MAX_VALUE });
    this.classes = metadata.classes;
    this.isClassifier = metadata.task === 'classification';
    this.goldenMaxDiff = null;
    this.goldenPending = []; // golden rows not yet run (checkGolden({first}))
  }

  get runtime() { return this.backend.info; }

  /** Run the input matrix (row-major, nColumns per row; NaN = missing). Returns
   * {probabilities: Float64Array [n*C], label: Int32Array [n]} or {value: Float64Array [n]}. */
  async runMatrix(X, n = X.length / this.encoder.nColumns) {
    if (X.length !== n * this.encoder.nColumns) {
      throw new InvalidInputError('<matrix>', `expected ${n} rows of ${this.encoder.nColumns} values`);
    }
    return this.backend.run(X, n);
  }

  /** Predict rows (River-style objects): [{label, probabilities}] or [{value}]. */
  async predictMany(rows) {
    const out = await this.runMatrix(this.encoder.encodeMany(rows), rows.length);
    if (this.metadata.task === 'cluster') {
      const K = this.classes.length;
      return Array.from(out.cluster, (j, i) => ({
        cluster: this.classes[j],
        distances: Array.from(out.distances.subarray(i * K, (i + 1) * K)),
      }));
    }
    if (this.metadata.task === 'anomaly') { // River's score_one, and a filter's classify
      return Array.from(out.score, (score, i) => (out.is_anomaly
        ? { score, is_anomaly: out.is_anomaly[i] === 1 } : { score }));
    }
    if (this.metadata.task === 'forecast') return Array.from(out.forecast, (forecast) => ({ forecast }));
    if (this.metadata.task === 'reco') return Array.from(out.score, (score) => ({ score }));
    if (PER_TARGET[this.metadata.task]) { // River's {target: label or value} per row
      const labels = this.metadata.task === 'multilabel';
      return Array.from({ length: rows.length }, (_, i) => Object.fromEntries(this.classes.map((t) => [t,
        labels ? { label: out[`label.${t}`][i] === 1, probabilities: Array.from(out[`probabilities.${t}`].subarray(2 * i, 2 * i + 2)) }
          : { value: out[`value.${t}`][i] }])));
    }
    if (!this.isClassifier) return Array.from(out.value, (value) => ({ value }));
    const C = this.classes.length;
    return Array.from(out.label, (j, i) => ({
      label: this.classes[j],
      probabilities: Array.from(out.probabilities.subarray(i * C, (i + 1) * C)),
    }));
  }

  /** Predict one row: {label, probabilities (in `classes` order)} or {value}. */
  async predict(row) {
    return (await this.predictMany([row]))[0];
  }

  /** Re-run the embedded golden vectors; throws GoldenCheckError if they do not reproduce.
   * `first: k` runs only k of them, spread over the set (the first and the last included), so a
   * page can show a first answer sooner; `checkGoldenRest()` then runs the others, and until it
   * has, `goldenPending` lists them. Returns the largest difference seen so far. */
  async checkGolden({ requireGolden = true, first = null } = {}) {
    const n = this.metadata.golden_inputs.length;
    if (!n && requireGolden) {
      throw new NoGoldenVectorsError('the artifact embeds no golden vectors, so nothing shows ' +
        'that it computes what was exported: re-export it, or load it with {requireGolden: false}');
    }
    const now = first === null || first >= n ? Array.from({ length: n }, (_, i) => i) : spread(n, first);
    const picked = new Set(now);
    this.goldenPending = Array.from({ length: n }, (_, i) => i).filter((i) => !picked.has(i));
    this.goldenMaxDiff = null;
    return this.runGolden(now);
  }

  /** The golden rows a `checkGolden({first})` left (GoldenCheckError if they do not reproduce). */
  async checkGoldenRest() {
    const rows = this.goldenPending || [];
    const diff = await this.runGolden(rows);
    this.goldenPending = [];
    return diff;
  }

  async runGolden(rows) {
    const { golden_inputs: all, golden_outputs: allExpected, precision } = this.metadata;
    const tol = TOLERANCE[precision];
    if (tol === undefined) throw new ArtifactError(`unknown precision '${precision}'`);
    const inputs = rows.map((i) => all[i]);
    const expected = rows.map((i) => allExpected[i]);
    if (!inputs.length) { this.goldenMaxDiff ??= 0; return this.goldenMaxDiff; }
    const F = this.encoder.nColumns;
    const X = new Float64Array(inputs.length * F);
    inputs.forEach((r, i) => r.forEach((v, j) => { X[i * F + j] = v === null ? NaN : v; }));
    const out = await this.runMatrix(X, inputs.length);
    const main = (TASK_OUTPUTS[this.metadata.task] || ['value'])[0];
    const [got, width] = PER_TARGET[this.metadata.task] ? targetRows(this.metadata, out, inputs.length)
      : [out[main], PER_CLASS_OUTPUTS.has(main) ? this.classes.length : 1];
    let maxDiff = this.goldenMaxDiff ?? 0;
    let ok = got.length === inputs.length * width;
    for (let i = 0; ok && i < inputs.length; i++) {
      for (let k = 0; k < width; k++) {
        const g = got[i * width + k];
        const e = expected[i][k];
        if (!within(g, e, tol)) ok = false;
        if (!Number.isNaN(g - e)) maxDiff = Math.max(maxDiff, Math.abs(g - e));
      }
    }
    if (!ok) {
      // a float32 artifact whose golden rows hold values its arithmetic overflows on (an input
      // near 1e150) is not corrupt: say so (estuary/runtimes/base.py's _why_not_golden)
      const big = Math.max(0, ...inputs.flat().filter((v) => v !== null).map(Math.abs));
      const why = precision === 'float32' && big > 1.8e19
        ? `a golden input of ${Number(big.toPrecision(3))} overflows float32, which this format ` +
          'computes in: it cannot follow River on such rows; export a float64 format (ONNX, PMML) for them'
        : 'the artifact is corrupt or the runtime computes differently; do not serve it, re-export it';
      throw new GoldenCheckError(`the embedded golden vectors do not reproduce in ` +
        `${this.runtime.name} ${this.runtime.version} (max diff ${maxDiff}, tolerance ${tol}): ${why}`);
    }
    if (this.isClassifier && out.label) this.checkGoldenLabels(out.label, tol, rows);
    this.goldenMaxDiff = maxDiff;
    return maxDiff;
  }

  /** Each golden row's label is River's own (`golden_labels`; else the arg-max of its golden
   * probabilities), except on rows whose top two probabilities tie within the tolerance.
   * `rows`: the golden rows `labels` are for (default: all, in order). */
  checkGoldenLabels(labels, tol, rows = null) {
    const { golden_outputs: expected, golden_labels: wanted } = this.metadata;
    labels.forEach((index, r) => {
      const i = rows ? rows[r] : r;
      const top = [...expected[i]].sort((a, b) => a - b).slice(-2);
      if (top.length === 2 && Math.abs(top[1] - top[0]) <= tol * Math.max(1, Math.abs(top[1]))) return;
      const river = wanted && wanted.length ? wanted[i]
        : this.classes[expected[i].indexOf(Math.max(...expected[i]))];
      if (river === null || river === undefined) return;
      if (this.classes[index] !== river) {
        throw new GoldenCheckError(`golden row ${i} gives the label ${JSON.stringify(this.classes[index])} ` +
          `in ${this.runtime.name} ${this.runtime.version} where River predicted ${JSON.stringify(river)}: ` +
          "the artifact's labels or classes were altered; do not serve it, re-export it");
      }
    });
  }
}

/** `k` of the row indices 0..n-1, spread evenly, the first and the last included. */
export function spread(n, k) {
  if (k <= 0) return [];
  if (k === 1 || n === 1) return [0];
  return [...new Set(Array.from({ length: Math.min(k, n) }, (_, j) => Math.round((j * (n - 1)) / (Math.min(k, n) - 1))))];
}

/** The artifact's bytes against its embedded SHA-256 (IntegrityError), then, with a trusted
 * key, its signature (SignatureError): js/src/verify.js. `signature` is the .sig file's bytes
 * (null: none); `shards` TF.js's [[name, bytes], ...]. */
async function checkBytes(main, shards, metadata, { trustedKey = null, signature = null, integrity = true } = {}) {
  if (trustedKey) {
    const why = await signatureProblem(await artifactSha256(main, shards), signature, trustedKey);
    if (why) throw new SignatureError(`the artifact: ${why}`);
  }
  const why = integrity ? await integrityProblem(main, shards, metadata.integrity) : null;
  if (why) throw new IntegrityError(`the artifact: ${why}`);
}

async function readOptional(read, name) {
  try {
    return new Uint8Array(await read(name));
  } catch {
    return null; // no signature file: unsigned
  }
}

// ----------------------------------------------------------------------------- readers

/** read(name) over HTTP relative to `base` (browser, or Node's global fetch). */
export function httpReader(base) {
  const root = base.endsWith('/') ? base : `${base}/`;
  return async (name) => {
    const url = new URL(name, new URL(root, globalThis.location ? globalThis.location.href : undefined));
    let res;
    try {
      res = await fetch(url, { cache: 'no-store' });
    } catch (e) {
      throw new ArtifactError(`cannot fetch ${url}: ${e.message}`);
    }
    if (!res.ok) throw new ArtifactError(`cannot fetch ${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
}

// ----------------------------------------------------------------------------- TF.js

const BYTES = { float32: 4, int32: 4, bool: 1 };

async function readOrFail(read, name, what) {
  try {
    return new Uint8Array(await read(name));
  } catch (e) {
    if (e instanceof ArtifactError) throw e;
    throw new ArtifactError(`${what} '${name}' cannot be read (${e.code || e.message})`);
  }
}

/** Read and check model.json and its shards; returns TF.js ModelArtifacts. */
export async function readTfjsArtifacts(read) {
  const raw = await readOrFail(read, 'model.json', 'the TF.js model file');
  let doc;
  try {
    doc = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new ArtifactError(`model.json is not valid JSON (${e.message}): the artifact is corrupt, re-export it`);
  }
  if (doc === null || typeof doc !== 'object' || !doc.modelTopology || !Array.isArray(doc.weightsManifest)) {
    throw new ArtifactError('model.json has no modelTopology/weightsManifest: it is not a TF.js model');
  }
  if (doc.format !== 'graph-model') {
    throw new ArtifactError(`model.json format is '${doc.format}', estuary writes 'graph-model'`);
  }
  const weightSpecs = [];
  const parts = [];
  for (const group of doc.weightsManifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ArtifactError('model.json: a weightsManifest entry lacks paths or weights');
    }
    let declared = 0;
    for (const w of group.weights) {
      if (!(w.dtype in BYTES)) throw new ArtifactError(`model.json: weight '${w.name}' has dtype '${w.dtype}'`);
      declared += w.shape.reduce((a, b) => a * b, 1) * BYTES[w.dtype];
      weightSpecs.push(w);
    }
    let actual = 0;
    for (const p of group.paths) {
      if (typeof p !== 'string' || p.includes('/') || p.includes('\\') || p.startsWith('.')) {
        throw new ArtifactError(`model.json: weight shard path '${p}' must be a plain file name`);
      }
      const bytes = await readOrFail(read, p, 'the weight shard');
      parts.push(bytes);
      actual += bytes.length;
    }
    if (actual !== declared) {
      throw new ArtifactError(`the weight shards ${group.paths.join(', ')} hold ${actual} bytes but ` +
        `model.json declares ${declared}: a shard is truncated or from another export`);
    }
  }
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { weightData.set(p, at); at += p.length; }
  const artifacts = {
    modelTopology: doc.modelTopology,
    weightSpecs,
    weightData: weightData.buffer,
    format: doc.format,
    generatedBy: doc.generatedBy,
    convertedBy: doc.convertedBy,
    signature: doc.signature,
    userDefinedMetadata: doc.userDefinedMetadata,
  };
  // the bytes as read, for the digest and signature checks (not a TF.js field)
  const shards = doc.weightsManifest.flatMap((g) => g.paths).map((p, i) => [p, parts[i]]);
  Object.defineProperty(artifacts, 'estuaryFiles', { value: { main: raw, shards } });
  return artifacts;
}

// One float64 seen as two uint32 words, and which word is low on this machine: made once.
const KEY_SCRATCH = (() => {
  const f64 = new Float64Array(1);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return [f64, new Uint32Array(f64.buffer), little ? 0 : 1, little ? 1 : 0];
})();

/** A tree's `keys` input (estuary/converters/tfjs/order_keys.py), float32 [n, 4F + 1], from the
 * row-major matrix X [n, F]: each float64's order key cut into three whole numbers of 22, 21 and
 * 21 bits (first words of a row, then second, then third), then F missing flags (1 where NaN, its
 * words 0), then 1. TF.js has no float64: the tree compares these words with its thresholds'
 * words, exactly as River compares the numbers; -0 is written as +0. */
export function orderKeys(X, n, F) {
  const W = 4 * F + 1;
  const out = new Float32Array(n * W);
  const [f64, u32, L, H] = KEY_SCRATCH;
  for (let i = 0; i < n; i++) {
    const at = i * W;
    for (let j = 0; j < F; j++) {
      f64[0] = X[i * F + j]; // a plain array's undefined or text becomes NaN, as in `input`
      if (Number.isNaN(f64[0])) { out[at + 3 * F + j] = 1; continue; }
      if (f64[0] === 0) f64[0] = 0; // -0 → +0
      let hi = u32[H];
      let lo = u32[L];
      if (hi >>> 31) { hi = ~hi >>> 0; lo = ~lo >>> 0; } else { hi = (hi | 0x80000000) >>> 0; }
      out[at + j] = hi >>> 10;
      out[at + F + j] = (hi & 0x3ff) * 2048 + (lo >>> 21);
      out[at + 2 * F + j] = lo & 0x1fffff;
    }
    out[at + 4 * F] = 1;
  }
  return out;
}

class TfjsBackend {
  constructor(tf, graphModel, outputs, nColumns) {
    this.tf = tf;
    this.model = graphModel;
    this.outputs = outputs;
    this.nColumns = nColumns;
    this.takesKeys = graphModel.inputNodes.some((name) => name.split(':')[0] === 'keys');
    this.info = { name: '@tensorflow/tfjs', version: tf.version ? tf.version.tfjs : 'unknown', backend: tf.getBackend() };
  }

  async run(X, n) {
    const tf = this.tf;
    const feeds = {};
    try {
      feeds.input = tf.tensor2d(Float32Array.from(X), [n, this.nColumns], 'float32');
      if (this.takesKeys) feeds.keys = tf.tensor2d(orderKeys(X, n, this.nColumns), [n, 4 * this.nColumns + 1], 'float32');
      const got = this.model.execute(feeds, this.outputs);
      const list = Array.isArray(got) ? got : [got];
      const out = {};
      this.outputs.forEach((name, i) => {
        const data = list[i].dataSync();
        out[name] = INDEX_OUTPUTS.has(name) ? Int32Array.from(data) : Float64Array.from(data);
      });
      tf.dispose(list);
      return out;
    } finally {
      feeds.input?.dispose();
      feeds.keys?.dispose();
    }
  }
}

/** Load a `.tfjs` directory with @tensorflow/tfjs; checks the golden vectors. */
export async function loadTfjs(tf, read, {
  check = true, trustedKey = null, requireGolden = true, goldenFirst = null,
} = {}) {
  const artifacts = await readTfjsArtifacts(read);
  const udm = artifacts.userDefinedMetadata || {};
  if (!(METADATA_KEY in udm)) {
    throw new ArtifactError('model.json has no estuary metadata (userDefinedMetadata.estuary): export it with estuary');
  }
  const metadata = parseMetadata(udm[METADATA_KEY], 'model.json');
  const { main, shards } = artifacts.estuaryFiles;
  const signature = trustedKey ? await readOptional(read, 'model.json.sig') : null;
  await checkBytes(main, shards, metadata, { trustedKey, signature, integrity: check });
  let graphModel;
  try {
    graphModel = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new ArtifactError(`TF.js cannot load the graph model (${e.message}): the artifact is corrupt, re-export it`);
  }
  const outputs = outputNames(metadata);
  const nColumns = new RowEncoder(metadata.schema).nColumns;
  const model = new EstuaryModel(new TfjsBackend(tf, graphModel, outputs, nColumns), metadata, 'tfjs');
  model.rawMetadata = udm[METADATA_KEY];
  if (check) await model.checkGolden({ requireGolden, first: goldenFirst });
  return model;
}

// ----------------------------------------------------------------------------- ONNX

/** ModelProto.metadata_props (field 14: key = 1, value = 2) read straight from the protobuf. */
export function onnxMetadataProps(bytes) {
  const props = {};
  const dec = new TextDecoder();
  let pos = 0;
  const varint = (end) => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (pos >= end) throw new ArtifactError('the ONNX file is truncated (varint)');
      const b = bytes[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
      if (mul > 2 ** 63) throw new ArtifactError('the ONNX file is corrupt (varint)');
    }
  };
  const skip = (wire, end) => {
    if (wire === 0) varint(end);
    else if (wire === 1) pos += 8;
    else if (wire === 2) { const n = varint(end); pos += n; } // not `pos += varint()`: pos is read first
    else if (wire === 5) pos += 4;
    else throw new ArtifactError(`the ONNX file is corrupt (wire type ${wire})`);
    if (pos > end) throw new ArtifactError('the ONNX file is truncated');
  };
  while (pos < bytes.length) {
    const tag = varint(bytes.length);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 14 && wire === 2) {
      const len = varint(bytes.length);
      const end = pos + len;
      if (end > bytes.length) throw new ArtifactError('the ONNX file is truncated (metadata)');
      let key = '';
      let value = '';
      while (pos < end) {
        const t = varint(end);
        if ((t & 7) === 2 && (t >> 3) <= 2) {
          const n = varint(end);
          if (pos + n > end) throw new ArtifactError('the ONNX file is truncated (metadata)');
          const s = dec.decode(bytes.subarray(pos, pos + n));
          pos += n;
          if (t >> 3 === 1) key = s; else value = s;
        } else {
          skip(t & 7, end);
        }
      }
      props[key] = value;
    } else {
      skip(wire, bytes.length);
    }
  }
  return props;
}

/** ONNX Runtime Mobile's .ort file (FlatBuffers, identifier "ORTM") names itself at bytes 4..8. */
export function isOrtFormat(bytes) {
  return bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'ORTM';
}

/** The .ort model's metadata_props, read straight from the FlatBuffers file (ort.fbs: root
 * InferenceSession, its field 1 `model`, the Model's field 9 `metadata_props`, a vector of
 * StringStringEntry {key, value}); every offset is bounds-checked. */
export function ortMetadataProps(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  const need = (pos, len) => {
    if (!(pos >= 0 && pos + len <= bytes.length)) throw new ArtifactError('the .ort file is truncated or corrupt');
  };
  const u32 = (pos) => { need(pos, 4); return view.getUint32(pos, true); };
  const u16 = (pos) => { need(pos, 2); return view.getUint16(pos, true); };
  const deref = (pos) => pos + u32(pos);
  const field = (table, index) => { // absolute position of a table's field, 0 when absent
    need(table, 4);
    const vtable = table - view.getInt32(table, true);
    const at = 4 + 2 * index;
    if (at >= u16(vtable)) return 0;
    const offset = u16(vtable + at);
    return offset ? table + offset : 0;
  };
  const string = (pos) => {
    if (!pos) return '';
    const start = deref(pos);
    const len = u32(start);
    need(start + 4, len);
    return dec.decode(bytes.subarray(start + 4, start + 4 + len));
  };
  if (!isOrtFormat(bytes)) throw new ArtifactError('not an ONNX Runtime .ort file (no ORTM identifier): re-export it');
  const model = field(u32(0), 1);
  if (!model) throw new ArtifactError('the .ort file holds no model: re-export it');
  const props = {};
  const list = field(deref(model), 9);
  if (!list) return props;
  const vector = deref(list);
  const count = u32(vector);
  need(vector + 4, 4 * count);
  for (let i = 0; i < count; i++) {
    const entry = deref(vector + 4 + 4 * i);
    props[string(field(entry, 0))] = string(field(entry, 1));
  }
  return props;
}

class OnnxBackend {
  constructor(ort, session, nColumns, provider = 'wasm') {
    this.ort = ort;
    this.session = session;
    this.nColumns = nColumns;
    const versions = ort.env.versions || {};
    this.info = provider === 'cpu'
      ? { name: 'onnxruntime-node', version: versions.node || 'unknown', backend: 'cpu' }
      : { name: 'onnxruntime-web', version: versions.web || 'unknown', backend: 'wasm' };
  }

  async run(X, n) {
    const input = new this.ort.Tensor('float64', Float64Array.from(X), [n, this.nColumns]);
    const got = await this.session.run({ input });
    const out = {};
    for (const [name, t] of Object.entries(got)) {
      // int64 outputs come as BigInt64Array (onnxruntime-node), which Float64Array.from refuses
      const data = t.data instanceof BigInt64Array ? Array.from(t.data, Number) : t.data;
      out[name] = INDEX_OUTPUTS.has(name) ? Int32Array.from(data, Number) : Float64Array.from(data);
      t.dispose?.();
    }
    return out;
  }
}

/** Load ONNX (or .ort) bytes with onnxruntime-web (wasm), or with onnxruntime-node when
 * `provider` is 'cpu'; checks the golden vectors. */
export async function loadOnnx(ort, bytes, {
  check = true, provider = 'wasm', trustedKey = null, signature = null, requireGolden = true,
  goldenFirst = null, optimization = 'all',
} = {}) {
  const data = new Uint8Array(bytes);
  const format = isOrtFormat(data) ? 'ort' : 'onnx';
  if (trustedKey) await checkBytes(data, [], {}, { trustedKey, signature, integrity: false });
  const props = format === 'ort' ? ortMetadataProps(data) : onnxMetadataProps(data);
  if (!(METADATA_KEY in props)) {
    throw new ArtifactError('the ONNX model has no estuary metadata: export it with estuary');
  }
  const metadata = parseMetadata(props[METADATA_KEY], 'the ONNX model');
  // a .ort carries the digest of the ONNX it was converted from: only an .onnx checks its own
  if (check && format === 'onnx') await checkBytes(data, [], metadata);
  let session;
  try {
    session = await ort.InferenceSession.create(data, { executionProviders: [provider], graphOptimizationLevel: optimization });
  } catch (e) {
    const name = provider === 'cpu' ? 'onnxruntime-node' : 'onnxruntime-web';
    throw new ArtifactError(`${name} cannot load the ONNX model (${String(e.message || e).slice(0, 300)}): it may be truncated or corrupt, re-export it`);
  }
  const nColumns = new RowEncoder(metadata.schema).nColumns;
  const model = new EstuaryModel(new OnnxBackend(ort, session, nColumns, provider), metadata, format);
  model.rawMetadata = props[METADATA_KEY];
  if (check) await model.checkGolden({ requireGolden, first: goldenFirst });
  return model;
}
