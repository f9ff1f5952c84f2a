// Type declarations for src/manifest.js: a store version's manifest.json as the JS client reads
// it. The definition is estuary/online/manifest.py (JSON Schema: estuary/online/manifest.schema.json).

/** The manifest schema version this client reads. */
export declare const MANIFEST_SCHEMA_VERSION: 1;

/** A manifest that is not what this client reads; `field` names the offending field. */
export declare class ManifestError extends Error {
  constructor(field: string, message: string);
  readonly field: string;
}

/** One file of a version, as hashed when it was committed. */
export interface FileEntry {
  sha256: string;
  size: number;
}

/** One format's parity report, summarised (estuary/parity). */
export interface ParitySummary {
  format: string;
  artifact: string;
  runtime: string;
  model: string;
  ir_hash: string;
  task: string;
  n_rows: number;
  label_agreement: number | null;
  max_abs_diff: number | string | null;
  max_scaled_diff: number | string | null;
  tolerance: number;
  precision: string;
  passed: boolean;
  [extra: string]: unknown;
}

/** What became of one format: its artifact (`file`, null when not served) and its parity. */
export interface FormatEntry {
  file: string | null;
  passed: boolean | null;
  report: ParitySummary | null;
  error?: string | null;
  not_applicable?: string | null;
}

/** A version: the snapshot it holds, every format's outcome, and every file's SHA-256. */
export interface Manifest {
  schema_version: 1;
  version: number;
  status: 'published' | 'rejected';
  ir_hash: string;
  snapshot_id: string;
  source: string;
  task: string;
  created_at: string;
  n_events: number;
  reason: string;
  estuary_version: string;
  river_version: string | null;
  probes: number;
  metrics: Record<string, number | string | boolean | null>;
  formats: Record<string, FormatEntry>;
  files: Record<string, FileEntry>;
  [extra: string]: unknown;
}

/** Check a manifest field by field (and, given `version`, that it is that version's);
 * returns it, or throws ManifestError naming the first bad field. */
export declare function checkManifest(manifest: unknown, version?: number): Manifest;
