// The two runtimes, started as early as the page allows.
//
// index.html loads this module `async`, so it runs before the app and the model are even
// fetched. `estuary serve` has already asked the browser (link preloads in <head>) for the
// module of the runtime that answers first (on an ONNX-only page, onnxruntime-web's wasm too:
// 14 MB, 3.7 MB gzipped, fetched and compiled from the head; handed to ORT below), and inlined
// the latest version's manifest in the page's config, from which `plan` is decided:
//
// - ?runtime=tfjs: @tensorflow/tfjs (cpu backend) only.
// - ONNX (the default): onnxruntime-web. Its start-up is most of the time to a first answer
//   (wasm compile, then ~150 ms of the runtime's own initialisation on the main thread), so when
//   the latest version also has a TF.js artifact that passed parity (linear models, naive
//   Bayes, trees and ensembles), the page answers first with TF.js (float32, golden-checked
//   like any model) and swaps to ONNX, checked in turn, as soon as it is up: a progressive first
//   answer.
//   ?progressive=0 turns this off (ONNX only).

import { checkManifest } from '/js/manifest.js';

const TINY = 'CAgSB2VzdHVhcnk6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgLEgQKAggBYg8KAXkSCgoICAsSBAoCCAFCBAoAEA0=';

const params = new URLSearchParams(window.location.search);
const config = JSON.parse(document.getElementById('estuary-config')?.textContent || '{}');

// The named model this page shows, when the server holds many (`estuary serve ROOT` inlines
// it): every request about the model says which, as ?model=<name>. null on a one-model store.
export const model = typeof config.model === 'string' ? config.model : null;
export const models = Array.isArray(config.models) ? config.models : [];
/** `path` of the server's API, for this page's model. */
export const api = (path) => (model === null ? path
  : `${path}${path.includes('?') ? '&' : '?'}model=${encodeURIComponent(model)}`);
// the inlined manifest only plans the start (app.js checks every manifest it loads): a bad
// one plans nothing
const manifest = (() => {
  try {
    return config.manifest ? checkManifest(config.manifest) : null;
  } catch (e) {
    console.warn(`estuary: the page's inlined manifest is not used: ${e.message}`);
    return null;
  }
})();

/** The runtime the user wants, and the one that answers first (the same unless progressive). */
export const plan = (() => {
  const wanted = params.get('runtime') === 'tfjs' ? 'tfjs' : 'onnx';
  const tfjs = manifest?.formats.tfjs;
  const progressive = wanted === 'onnx' && params.get('progressive') !== '0' &&
    Boolean(tfjs?.file && tfjs.passed) && !config.missing?.includes('@tensorflow/tfjs');
  return { wanted, first: progressive ? 'tfjs' : wanted, progressive };
})();

/** ORT's graph optimisation level for the page's sessions: off. estuary's graphs are already
 * lean (one-row p50 and golden diffs measured unchanged), and ORT's optimisers are code its
 * start would compile first (wasm is compiled lazily, function by function, on the main
 * thread): the first session ~50 ms sooner, ARF(10)'s load ~400 ms (benchmarks/README.md,
 * Browser, fourth pass). ?ortopt=all|basic: ORT's levels, to measure the difference. */
export const ORT_OPTIMIZATION = ['all', 'basic'].includes(params.get('ortopt'))
  ? params.get('ortopt') : 'disabled';

/** The level for a model's session: a forecaster's graph keeps constant subexpressions that
 * ORT's constant folding removes (SNARIMAX: 56 µs a run folded, 315 µs not, onnxruntime 1.32),
 * so it keeps ORT's full optimisation unless ?ortopt says otherwise. */
export function ortOptimization(task) {
  return task === 'forecast' && !params.has('ortopt') ? 'all' : ORT_OPTIMIZATION;
}

let promise = null;
// onnxruntime-web's wasm (1 thread), next to its module, served by `estuary serve` as
// application/wasm: no CDN
const ORT_DIR = new URL('./', import.meta.resolve('onnxruntime-web')).href;
const ORT_WASM = `${ORT_DIR}ort-wasm-simd-threaded.wasm`;
let compiled = null; // Promise<WebAssembly.Module>

/** Fetch and compile ORT's wasm now (streaming: it compiles while it downloads), in parallel
 * with ORT's module, the app and the artifact: otherwise ORT starts it only once its module
 * is imported and evaluated. ?precompile=0 leaves it to ORT (to measure the difference). The
 * same fetch as the server's preload, which it takes over; V8 caches the compiled code (no
 * service worker needed: Chrome keeps a streamed module's code in its HTTP cache entry). */
function compileOrtWasm() {
  // on an ONNX-only page, `estuary serve` has started it already, from the page's head
  if (!compiled && window.estuaryOrtWasm instanceof Promise) compiled = window.estuaryOrtWasm;
  if (compiled || params.get('precompile') === '0' || !WebAssembly.compileStreaming) return;
  performance.mark('estuary:wasm-fetch-start');
  compiled = WebAssembly.compileStreaming(fetch(ORT_WASM, { credentials: 'same-origin' }))
    .then((m) => { performance.mark('estuary:wasm-compiled'); return m; });
  compiled.catch(() => {}); // then ORT fetches and compiles it itself
}

/** ORT instantiates its wasm with WebAssembly.instantiateStreaming(fetch(url)) and has no hook
 * for a module compiled elsewhere: for the duration of its start, that call gets the module
 * compiled above (its own fetch is dropped); if that compile failed, ORT's call as it was. */
async function withCompiled(start) {
  const module = compiled && await compiled.catch(() => null);
  if (!module) return start();
  const original = WebAssembly.instantiateStreaming;
  WebAssembly.instantiateStreaming = async (source, imports) => {
    const res = await source;
    if (!res?.url?.endsWith('/ort-wasm-simd-threaded.wasm')) return original(res, imports);
    res.body?.cancel().catch(() => {});
    const instance = await WebAssembly.instantiate(module, imports);
    performance.mark('estuary:wasm-instantiated');
    return { module, instance };
  };
  try {
    return await start();
  } finally {
    WebAssembly.instantiateStreaming = original;
  }
}

/** onnxruntime-web, configured (local wasm, one thread, no proxy worker) and initialised. */
export function getOrt() {
  compileOrtWasm();
  promise ??= (async () => {
    const ort = await import('onnxruntime-web');
    performance.mark('estuary:ort-imported');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = ORT_DIR;
    ort.env.logLevel = 'error';
    // a 77-byte Identity model, created and run: instantiates and initialises the wasm now
    const bytes = Uint8Array.from(atob(TINY), (c) => c.charCodeAt(0));
    let session;
    try {
      await withCompiled(async () => {
        session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'],
          graphOptimizationLevel: ORT_OPTIMIZATION });
      });
      performance.mark('estuary:ort-session');
      await session.run({ x: new ort.Tensor('float64', Float64Array.of(0), [1]) });
    } catch (e) {
      throw new Error(`onnxruntime-web could not start its wasm (${e.message || e}); ` +
        `are the server's npm packages installed (${config.install || 'estuary setup-js'})?`);
    } finally {
      session?.release();
    }
    performance.mark('estuary:ort-ready');
    return ort;
  })();
  return promise;
}

let tfPromise = null;

/** @tensorflow/tfjs on its cpu backend (no WebGL: exact float32 kernels, nothing to set up). */
export function getTf() {
  tfPromise ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    if (!(await tf.setBackend('cpu'))) throw new Error('TF.js has no cpu backend');
    await tf.ready();
    tf.enableProdMode();
    performance.mark('estuary:tfjs-ready');
    return tf;
  })();
  return tfPromise;
}

export const getRuntime = (runtime) => (runtime === 'tfjs' ? getTf() : getOrt());

// The first model's files, fetched now (before TF.js's module is evaluated, a long task on the
// main thread), as app.js's reader fetches them (revalidated against the server's ETag). The
// latest version's manifest lists them; app.js takes each response once.
const early = new Map(); // URL → Promise<Response>

/** The response of a fetch of `url` started at page start, once; else null. */
export function takeEarly(url) {
  const p = early.get(url) ?? null;
  early.delete(url);
  return p;
}

function prefetchFirstModel() {
  const m = manifest;
  const file = m?.formats[plan.first]?.file;
  if (!file) return;
  for (const name of Object.keys(m.files)) {
    if (name === file || name.startsWith(`${file}/`)) {
      const url = api(`/models/${m.version}/${name}`);
      // started from the page's head by `estuary serve` (?early=0: not), else now
      const p = window.estuaryEarly?.get(url) ?? fetch(url, { cache: 'no-cache' });
      p.catch(() => {}); // the reader reports it
      early.set(url, p);
    }
  }
}

// Only the runtime that answers first is started here: on a progressive page, onnxruntime-web
// (its module, its 14 MB wasm, its initialisation: a long task on the main thread) waits until
// TF.js has answered (app.js), so as not to slow that first answer down.
prefetchFirstModel();
getRuntime(plan.first).catch(() => {});
