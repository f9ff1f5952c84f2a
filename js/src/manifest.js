// The manifest of a stored version (GET /models/<n>/manifest.json), checked before it is used.
//
// Its definition is estuary/online/manifest.py (schema: estuary/online/manifest.schema.json,
// schema_version 1). This checks the fields a client reads and throws a ManifestError naming
// the first bad one, instead of failing later on an undefined:
//
//   const manifest = checkManifest(await (await fetch('/models/3/manifest.json')).json(), 3);
//   manifest.formats.onnx.file  // 'model.onnx': a relative path inside the version directory
//
// No imports: the page's runtimes.js reads the inlined manifest before anything else loads.

export const MANIFEST_SCHEMA_VERSION = 1;

/** A manifest that is not what this client reads; `field` names the offending field. */
export class ManifestError extends Error {
  constructor(field, message) {
    super(`manifest field '${field}': ${message}`);
    this.name = 'ManifestError';
    this.field = field;
  }
}

// a relative POSIX path whose segments are neither empty, '.' nor '..' (as manifest.py's SAFE_NAME)
const SAFE_NAME = /^(?!\.\.?(\/|$))(?!.*\/\.\.?(\/|$))[^/\\\x00]+(\/[^/\\\x00]+)*$/;
const SHA256 = /^[0-9a-f]{64}$/;
const NON_FINITE = new Set(['inf', '-inf', 'nan']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isString = (v) => typeof v === 'string';
const isCount = (v) => Number.isInteger(v) && v >= 0;
const isFloat = (v) => typeof v === 'number' || NON_FINITE.has(v);
const orNull = (test) => (v) => v === null || test(v);
const shown = (v) => (JSON.stringify(v) ?? String(v)).slice(0, 80);

function want(ok, field, expected, value) {
  if (!ok) throw new ManifestError(field, `expected ${expected}, got ${shown(value)}`);
}

function checkFields(obj, at, fields) {
  for (const [key, [test, expected]] of Object.entries(fields)) {
    want(test(obj[key]), at ? `${at}.${key}` : key, expected, obj[key]);
  }
}

const TOP = {
  version: [(v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  status: [(v) => v === 'published' || v === 'rejected', '"published" or "rejected"'],
  ir_hash: [(v) => isString(v) && SHA256.test(v), 'a SHA-256 (64 hex digits)'],
  source: [isString, 'a string'],
  task: [isString, 'a string'],
  created_at: [isString, 'a string'],
  reason: [isString, 'a string'],
  n_events: [isCount, 'an integer >= 0'],
  river_version: [orNull(isString), 'a string or null'],
  files: [isObject, 'an object'],
  formats: [isObject, 'an object'],
};

const ENTRY = {
  file: [orNull((v) => isString(v) && SAFE_NAME.test(v)),
    'null or a relative path inside the version directory'],
  passed: [orNull((v) => typeof v === 'boolean'), 'true, false or null'],
  report: [orNull(isObject), 'an object or null'],
  error: [(v) => v == null || isString(v), 'a string or null'],
  not_applicable: [(v) => v == null || isString(v), 'a string or null'],
};

const REPORT = {
  passed: [(v) => typeof v === 'boolean', 'true or false'],
  n_rows: [isCount, 'an integer >= 0'],
  label_agreement: [orNull(isFloat), 'a number or null'],
  max_abs_diff: [isFloat, 'a number'],
  tolerance: [isFloat, 'a number'],
  precision: [isString, 'a string'],
  runtime: [isString, 'a string'],
  worst_rows: [Array.isArray, 'an array'],
};

function checkFormat(name, entry, files) {
  const at = `formats.${name}`;
  want(isObject(entry), at, 'an object', entry);
  checkFields(entry, at, ENTRY);
  if (entry.report) checkFields(entry.report, `${at}.report`, REPORT);
  const { file } = entry;
  if (file && !Object.keys(files).some((n) => n === file || n.startsWith(`${file}/`))) {
    throw new ManifestError(`${at}.file`, `${shown(file)} is not among the version's files`);
  }
}

/**
 * `m` (a parsed manifest.json) if it has every field a client reads, of the right type; else
 * throws ManifestError. With `version`, the manifest must also be that version's.
 */
export function checkManifest(m, version = undefined) {
  want(isObject(m), '<document>', 'an object', m);
  if (m.schema_version !== MANIFEST_SCHEMA_VERSION) {
    throw new ManifestError('schema_version', `expected ${MANIFEST_SCHEMA_VERSION}, got ` +
      `${shown(m.schema_version)}: this client reads schema version ${MANIFEST_SCHEMA_VERSION}`);
  }
  checkFields(m, '', TOP);
  if (version !== undefined && m.version !== version) {
    throw new ManifestError('version', `the manifest of version ${version} says version ${m.version}`);
  }
  for (const [name, f] of Object.entries(m.files)) {
    want(SAFE_NAME.test(name), `files.${name}`, 'a relative path inside the version directory', name);
    want(isObject(f) && isString(f.sha256) && SHA256.test(f.sha256), `files.${name}.sha256`,
      'a SHA-256 (64 hex digits)', f?.sha256);
  }
  for (const [name, entry] of Object.entries(m.formats)) checkFormat(name, entry, m.files);
  return m;
}
