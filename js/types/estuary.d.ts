// Type declarations for estuary's JavaScript client (src/estuary.js). Kept by hand next to the
// module; tests/test_wheel.py checks that the names declared here are exactly its exports and
// that TypeScript accepts this file.

/** Key of the estuary metadata in every artifact (ONNX metadata_props, TF.js userDefinedMetadata). */
export declare const METADATA_KEY: 'estuary';
/** The metadata layout this client reads; other versions are refused (re-export the model). */
export declare const METADATA_VERSION: 1;
/** Golden-vector tolerance by the artifact's precision. */
export declare const TOLERANCE: { readonly float64: number; readonly float32: number };

export declare class EstuaryError extends Error {
  constructor(message?: string);
}
/** The artifact is missing, corrupt, truncated or not what it claims to be. */
export declare class ArtifactError extends EstuaryError {}
/** The embedded golden vectors do not reproduce: the model must not be served. */
export declare class GoldenCheckError extends ArtifactError {}
/** The artifact's bytes are not the bytes it was exported with (its embedded SHA-256). */
export declare class IntegrityError extends ArtifactError {}
/** A trusted key is set and the artifact is unsigned, signed by another key, or changed. */
export declare class SignatureError extends ArtifactError {}
/** The artifact embeds no golden vectors (load with {requireGolden: false} to accept that). */
export declare class NoGoldenVectorsError extends ArtifactError {}
/** ±Infinity, or beyond ±3.4e38 for a float32 artifact: refused before the runtime sees it. */
export declare class OutOfRangeError extends InvalidInputError {}
/** float32's largest value: a float32 artifact's RowEncoder refuses numbers beyond it. */
export declare const FLOAT32_MAX: number;
/** SHA-256 (hex) of an artifact: a file's bytes, or model.json and its [name, bytes] shards. */
export declare function artifactSha256(main: Uint8Array, shards?: [string, Uint8Array][]): Promise<string>;
/** null when the embedded `integrity` digest matches the bytes (or there is none), else why not. */
export declare function integrityProblem(main: Uint8Array, shards: [string, Uint8Array][], claimed: string | undefined): Promise<string | null>;
/** null when the .sig file's Ed25519 signature of `sha256` verifies with the trusted key. */
export declare function signatureProblem(sha256: string, signature: Uint8Array | ArrayBuffer | null, trustedKey: string | Uint8Array): Promise<string | null>;
/** First 16 hex digits of the SHA-256 of a raw public key (what a .sig file names). */
export declare function keyId(raw: Uint8Array): Promise<string>;
/** The raw 32-byte Ed25519 key of a PEM public key (or raw bytes, checked). */
export declare function publicKeyBytes(key: string | Uint8Array | ArrayBuffer): Uint8Array;
/** A row has a bad value; `field` names the feature. */
export declare class InvalidInputError extends EstuaryError {
  constructor(field: string, message: string);
  readonly field: string;
}

/** A store version's manifest.json, checked field by field (ManifestError names the field). */
export { checkManifest, ManifestError, MANIFEST_SCHEMA_VERSION } from './manifest.js';
export type { FileEntry, FormatEntry, Manifest, ParitySummary } from './manifest.js';

/** A category value as River wrote it (JSON). */
export type Category = string | number | boolean;

export interface NumericFeature {
  name: string;
  key: string | number | boolean;
  kind: 'numeric';
}

export interface CategoricalFeature {
  name: string;
  key: string | number | boolean;
  kind: 'categorical';
  categories: Category[];
}

export type Feature = NumericFeature | CategoricalFeature;

export interface Schema {
  features: Feature[];
  [extra: string]: unknown;
}

/** The estuary metadata embedded in every artifact (see estuary/ir/artifact.py). */
export interface Metadata {
  metadata_version: 1;
  schema: Schema;
  task: 'classification' | 'regression' | string;
  classes: Category[];
  golden_inputs: (number | null)[][];
  golden_outputs: number[][];
  precision: 'float64' | 'float32';
  [extra: string]: unknown;
}

/** A River-style row: feature name → value; absent, null or undefined means missing. */
export type Row = Record<string, number | string | boolean | bigint | null | undefined>;

export type Prediction = ClassPrediction | RegressionPrediction | AnomalyPrediction |
  ClusterPrediction | ForecastPrediction;
export interface ClassPrediction {
  label: Category;
  /** In `model.classes` order. */
  probabilities: number[];
}
export interface RegressionPrediction {
  value: number;
}
/** An anomaly detector: River's `score_one`; an anomaly filter also its `classify`. */
export interface AnomalyPrediction {
  score: number;
  is_anomaly?: boolean;
}
/** A clusterer: River's cluster id and the distance to each centre (in `model.classes` order). */
export interface ClusterPrediction {
  cluster: Category;
  distances: number[];
}
/** A forecaster: the forecast for the row's `step` ahead. */
export interface ForecastPrediction {
  forecast: number;
}

/** Outputs of `runMatrix`, named as the task's artifact outputs (estuary/ir/tasks.py). */
export interface MatrixOutputs {
  label?: Int32Array;
  probabilities?: Float64Array;
  value?: Float64Array;
  score?: Float64Array;
  is_anomaly?: Int32Array;
  distances?: Float64Array;
  cluster?: Int32Array;
  forecast?: Float64Array;
}

export interface RuntimeInfo {
  name: string;
  version: string;
  backend?: string;
}

export interface Backend {
  info: RuntimeInfo;
  run(X: Float64Array, n: number): Promise<MatrixOutputs>;
}

/** Returns the bytes of one file of an artifact, by name (e.g. 'model.json'). */
export type Reader = (name: string) => Promise<Uint8Array | ArrayBuffer>;

export interface LoadOptions {
  /** Check the embedded SHA-256 and re-run the golden vectors on load (default true). */
  check?: boolean;
  /** Refuse (NoGoldenVectorsError) an artifact without golden vectors (default true). */
  requireGolden?: boolean;
  /** An Ed25519 public key (PEM from `estuary keygen`, or 32 raw bytes): the artifact must be
   * signed by it (SignatureError otherwise). TF.js reads model.json.sig through `read`. */
  trustedKey?: string | Uint8Array | null;
  /** loadOnnx: the bytes of model.onnx.sig (null: unsigned). */
  signature?: Uint8Array | ArrayBuffer | null;
  /** loadOnnx: 'wasm' for onnxruntime-web (default), 'cpu' for onnxruntime-node. */
  provider?: 'wasm' | 'cpu';
  /** Run only this many golden rows on load, spread over the set (a page's first answer);
   * `model.checkGoldenRest()` runs the others (default null: all of them on load). */
  goldenFirst?: number | null;
  /** loadOnnx: onnxruntime's graph optimisation level (default 'all'; 'disabled' starts
   * onnxruntime-web's first session sooner: fewer of its functions compiled). */
  optimization?: 'all' | 'extended' | 'basic' | 'disabled';
}

/** Parse and check the estuary metadata JSON embedded in an artifact. */
export declare function parseMetadata(text: string | object, where?: string): Metadata;

/** Turns River-style rows into the artifact's input matrix, following the schema. */
export declare class RowEncoder {
  constructor(schema: Schema, options?: { maxAbs?: number });
  readonly nColumns: number;
  readonly columns: string[];
  encode(row: Row, out?: Float64Array, offset?: number): Float64Array;
  encodeMany(rows: Row[]): Float64Array;
}

/** Form values (strings) → a row: '' is missing, numeric text becomes a number. */
export declare function rowFromForm(schema: Schema, entries: Record<string, unknown>): Row;

/** An artifact ready to predict; built by `loadTfjs` / `loadOnnx`. */
export declare class EstuaryModel {
  constructor(backend: Backend, metadata: Metadata, format: 'tfjs' | 'onnx' | string);
  readonly backend: Backend;
  readonly metadata: Metadata;
  readonly format: string;
  readonly encoder: RowEncoder;
  readonly classes: Category[];
  readonly isClassifier: boolean;
  /** Largest golden-vector difference seen by `checkGolden` (null before it ran). */
  goldenMaxDiff: number | null;
  /** The metadata JSON string as embedded in the artifact. */
  rawMetadata?: string;
  readonly runtime: RuntimeInfo;
  runMatrix(X: Float64Array, n?: number): Promise<MatrixOutputs>;
  predictMany(rows: Row[]): Promise<Prediction[]>;
  predict(row: Row): Promise<Prediction>;
  /** Golden rows a `checkGolden({first})` left for `checkGoldenRest` (indices). */
  goldenPending: number[];
  /** Throws GoldenCheckError if the golden vectors do not reproduce; returns the max diff.
   * `first: k` runs only k rows, spread over the set (the first and last included). */
  checkGolden(options?: { requireGolden?: boolean; first?: number | null }): Promise<number>;
  /** Runs the golden rows `checkGolden({first})` left; throws GoldenCheckError. */
  checkGoldenRest(): Promise<number>;
}

/** `k` of the indices 0..n-1, spread evenly, the first and the last included. */
export declare function spread(n: number, k: number): number[];

/** read(name) over HTTP relative to `base` (browser, or Node's global fetch). */
export declare function httpReader(base: string): Reader;

/** TF.js ModelArtifacts, as `tf.io.fromMemory` takes them. */
export interface TfjsModelArtifacts {
  modelTopology: object;
  weightSpecs: object[];
  weightData: ArrayBuffer;
  format: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: Record<string, unknown>;
}

/** Read and check model.json and its weight shards. */
export declare function readTfjsArtifacts(read: Reader): Promise<TfjsModelArtifacts>;

/** A tree's `keys` input: float32 [n, 4F + 1] order-key words of a row-major float64 matrix. */
export declare function orderKeys(X: ArrayLike<number>, n: number, F: number): Float32Array;

/** The parts of `@tensorflow/tfjs` (or its cpu bundle) the client uses. */
export interface TfjsLike {
  loadGraphModel(handler: unknown): Promise<unknown>;
  io: { fromMemory(artifacts: TfjsModelArtifacts): unknown };
  tensor2d(values: Float32Array, shape: [number, number], dtype: 'float32'): unknown;
  dispose(tensors: unknown): void;
  getBackend(): string;
  version?: { tfjs: string };
}

/** The parts of `onnxruntime-web` the client uses. */
export interface OrtLike {
  InferenceSession: { create(bytes: Uint8Array, options?: object): Promise<unknown> };
  Tensor: new (type: 'float64', data: Float64Array, dims: number[]) => unknown;
  env: { versions?: { web?: string } };
}

/** Load a `.tfjs` directory with @tensorflow/tfjs; checks the golden vectors unless told not to.
 *
 *     const model = await loadTfjs(tf, httpReader('/models/latest/model.tfjs/'));
 */
export declare function loadTfjs(tf: TfjsLike, read: Reader, options?: LoadOptions): Promise<EstuaryModel>;

/** ModelProto.metadata_props of ONNX bytes, read straight from the protobuf. */
export declare function onnxMetadataProps(bytes: Uint8Array): Record<string, string>;

/** True for ONNX Runtime Mobile's `.ort` bytes (FlatBuffers, identifier "ORTM"). */
export declare function isOrtFormat(bytes: Uint8Array): boolean;

/** The Model's metadata_props of `.ort` bytes, read straight from the FlatBuffers file. */
export declare function ortMetadataProps(bytes: Uint8Array): Record<string, string>;

/** Load ONNX (or `.ort`) bytes with onnxruntime-web (wasm), or onnxruntime-node with
 * `provider: 'cpu'`; checks the golden vectors unless told not to.
 *
 *     const model = await loadOnnx(ort, await httpReader('/models/latest/')('model.onnx'));
 *     await model.predict({ x: 1.5, colour: 'red' });
 */
export declare function loadOnnx(ort: OrtLike, bytes: Uint8Array | ArrayBuffer, options?: LoadOptions): Promise<EstuaryModel>;
