// Checks of an artifact's bytes, as estuary's Python side makes them (estuary/integrity.py and
// estuary/signing.py), with WebCrypto alone: SHA-256 and Ed25519 (Node 20 and Chromium 137+
// have both; a page needs a secure context: https, or http on localhost).
//
// Each check returns null when it passes, or a sentence saying why not; estuary.js throws it
// as IntegrityError or SignatureError.
//
// - integrity: the metadata's "integrity" is "sha256:<hex>" of the artifact with that digest
//   written as 64 zeros; for TF.js, of model.json then, per weight shard it lists (sorted by
//   name), "\0<name>\0<length>\0" and the shard's bytes.
// - signature: a detached JSON file (model.onnx.sig, model.tfjs/model.json.sig) whose Ed25519
//   signature covers "estuary-signature-v1:<sha256 hex of the artifact as it is>".

export const PLACEHOLDER = `sha256:${'0'.repeat(64)}`;
const STAMP = /sha256:[0-9a-f]{64}/g;
const MESSAGE_PREFIX = 'estuary-signature-v1:';
const MAX_SIG_BYTES = 4096;

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    throw new Error('WebCrypto (crypto.subtle) is not available: serve the page over https or ' +
      'from localhost to check digests and signatures');
  }
  return s;
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** SHA-256 (hex) of an artifact: `main` (a file's bytes, or model.json) and, for TF.js, its
 * shards as [[name, bytes], ...] (integrity.py's `_digest`). */
export async function artifactSha256(main, shards = []) {
  const enc = new TextEncoder();
  const parts = [main];
  const unique = [...new Map(shards).entries()]; // a name listed twice is hashed once
  for (const [name, data] of unique.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    parts.push(enc.encode(`\0${name}\0${data.length}\0`), data);
  }
  return hex(await subtle().digest('SHA-256', concat(parts)));
}

/** Check the SHA-256 the metadata claims (`claimed`) against the bytes; null when it matches
 * or when there is none (an export made before digests). */
export async function integrityProblem(main, shards, claimed) {
  if (!claimed || claimed === PLACEHOLDER) return null;
  const text = new TextDecoder('latin1').decode(main); // one character per byte
  const found = text.match(STAMP) || [];
  const at = text.indexOf(claimed);
  if (found.length !== 1 || at < 0 || text.indexOf(claimed, at + 1) >= 0) {
    return 'its integrity digest is missing or repeated; the file is corrupt: re-export it';
  }
  const zeroed = main.slice();
  zeroed.set(new TextEncoder().encode(PLACEHOLDER), at);
  if (`sha256:${await artifactSha256(zeroed, shards)}` !== claimed) {
    return 'its bytes do not match the SHA-256 embedded at export; the file was corrupted or ' +
      'edited after export: do not serve it, re-export it';
  }
  return null;
}

function base64Bytes(text) {
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The raw 32-byte Ed25519 public key from PEM text (SubjectPublicKeyInfo, what `estuary
 * keygen` writes to KEY.pub) or raw bytes. */
export function publicKeyBytes(key) {
  if (key instanceof Uint8Array || key instanceof ArrayBuffer) {
    const raw = new Uint8Array(key);
    if (raw.length === 32) return raw;
    throw new Error(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
  }
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(String(key));
  if (!m) throw new Error('the trusted key is not a PEM public key (KEY.pub from `estuary keygen`)');
  const der = base64Bytes(m[1].replace(/\s+/g, ''));
  // SubjectPublicKeyInfo of Ed25519 (OID 1.3.101.112): a 12-byte prefix, then the raw key
  const prefix = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
  if (der.length !== 44 || prefix.some((b, i) => der[i] !== b)) {
    throw new Error('the trusted key is not an Ed25519 public key');
  }
  return der.subarray(12);
}

/** First 16 hex digits of the SHA-256 of the raw public key (signing.py's `key_id`). */
export async function keyId(raw) {
  return hex(await subtle().digest('SHA-256', raw)).slice(0, 16);
}

function parseSignature(bytes) {
  if (!bytes || bytes.length > MAX_SIG_BYTES) return null;
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    const sig = base64Bytes(doc.signature);
    const ok = doc.estuary_signature === 1 && doc.algorithm === 'Ed25519' &&
      typeof doc.key_id === 'string' && /^[0-9a-f]{64}$/.test(doc.sha256) && sig.length === 64;
    return ok ? { keyId: doc.key_id, sha256: doc.sha256, signature: sig } : null;
  } catch {
    return null;
  }
}

/** Check `signature` (the .sig file's bytes, or null when there is none) of an artifact whose
 * SHA-256 is `sha256` against the trusted public key; null when it verifies. */
export async function signatureProblem(sha256, signature, trustedKey) {
  if (!signature) {
    return 'its signature file is missing: the artifact is unsigned and a trusted key is set; ' +
      'export it with $ESTUARY_SIGNING_KEY';
  }
  const sig = parseSignature(new Uint8Array(signature));
  if (!sig) return 'its signature file is not an estuary signature: re-export it';
  const raw = publicKeyBytes(trustedKey);
  const trusted = await keyId(raw);
  if (sig.keyId !== trusted) {
    return `it is signed by key ${sig.keyId}, not by the trusted key ${trusted}: refused`;
  }
  const key = await subtle().importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  const message = new TextEncoder().encode(MESSAGE_PREFIX + sig.sha256);
  if (!(await subtle().verify({ name: 'Ed25519' }, key, sig.signature, message))) {
    return `its signature does not verify with the trusted key ${trusted}: the signature file ` +
      'was forged or altered; refused';
  }
  if (sig.sha256 !== sha256) {
    return `its bytes are not the bytes signed by key ${trusted}; the artifact was changed ` +
      'after it was signed: refused, re-export it';
  }
  return null;
}
