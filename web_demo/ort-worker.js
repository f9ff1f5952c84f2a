// onnxruntime-web in a dedicated module worker, started from the page's head (an ONNX-only page:
// `estuary serve` inlines `new Worker(...)` there, posts {type: 'start', ort}, and then
// {type: 'module', module}: ORT's wasm, compiled by the page's head as it downloaded).
//
// Why: ORT's start-up is ~200-330 ms of work on the thread that runs it (Chromium compiles wasm
// lazily, so its start-up functions are compiled when first called, then it registers its
// kernels). Here it runs beside the page's own module loading, the artifact fetch and the
// golden check's JS, and never blocks the page. The page runs sessions through web_demo/
// ort-remote.js, which gives lib.loadOnnx the part of ORT's API it uses (InferenceSession.create,
// session.run/release, Tensor, env.versions): golden check, signature check and hot reload stay
// in the page, as they were.
//
// Messages in: {type: 'start', ort} and {type: 'module', module} once, then {id, op: 'create'|'run'|'release', ...}.
// Messages out: {type: 'ready', versions, marks} (or {type: 'ready', error}), then {id, ...}.

const TINY = 'CAgSB2VzdHVhcnk6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgLEgQKAggBYg8KAXkSCgoICAsSBAoCCAFCBAoAEA0=';

const marks = {}; // step → ms since the Unix epoch (the page converts to its own time origin)
const mark = (name) => { marks[name] = performance.timeOrigin + performance.now(); };

let ortPromise = null;
const sessions = new Map(); // id → InferenceSession
let nextSession = 1;

let moduleArrived;
// the page's head compiles the wasm as it downloads (from ~100 ms: a worker starts later) and
// posts the module here; null if it could not (then ORT fetches and compiles it itself)
const compiled = new Promise((resolve) => { moduleArrived = resolve; });

async function startOrt(ortUrl) {
  const ort = await import(ortUrl);
  mark('ort-imported');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./', ortUrl).href;
  ort.env.logLevel = 'error';
  const module = await compiled;
  const original = WebAssembly.instantiateStreaming;
  if (module) {
    WebAssembly.instantiateStreaming = async (source, imports) => {
      const res = await source;
      if (!res?.url?.endsWith('/ort-wasm-simd-threaded.wasm')) return original(res, imports);
      res.body?.cancel().catch(() => {});
      const instance = await WebAssembly.instantiate(module, imports);
      mark('wasm-instantiated');
      return { module, instance };
    };
  }
  // a 77-byte Identity model, created and run: ORT's one-time start-up happens now
  const bytes = Uint8Array.from(atob(TINY), (c) => c.charCodeAt(0));
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  } finally {
    WebAssembly.instantiateStreaming = original;
  }
  mark('ort-session');
  try {
    await session.run({ x: new ort.Tensor('float64', Float64Array.of(0), [1]) });
  } finally {
    session.release();
  }
  mark('ort-ready');
  return ort;
}

/** A tensor as a message: its type, dims and data (transferred, not copied). */
const plain = (t) => ({ type: t.type, dims: t.dims, data: t.data });

async function handle(ort, msg) {
  if (msg.op === 'create') {
    const session = await ort.InferenceSession.create(msg.bytes, msg.options);
    const id = nextSession++;
    sessions.set(id, session);
    return { session: id, inputNames: session.inputNames, outputNames: session.outputNames };
  }
  const session = sessions.get(msg.session);
  if (!session) throw new Error(`no session ${msg.session} in the ORT worker (released?)`);
  if (msg.op === 'release') {
    sessions.delete(msg.session);
    await session.release();
    return {};
  }
  if (msg.op === 'run') {
    const feeds = {};
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const got = await session.run(feeds);
    const outputs = {};
    for (const [name, t] of Object.entries(got)) {
      outputs[name] = plain(t);
      t.dispose?.();
    }
    return { outputs };
  }
  throw new Error(`unknown ORT worker operation ${msg.op}`);
}

self.onmessage = async ({ data: msg }) => {
  if (msg.type === 'module') {
    moduleArrived(msg.module instanceof WebAssembly.Module ? msg.module : null);
    return;
  }
  if (msg.type === 'start') {
    ortPromise ??= startOrt(msg.ort);
    try {
      const ort = await ortPromise;
      self.postMessage({ type: 'ready', versions: { ...ort.env.versions }, marks });
    } catch (e) {
      self.postMessage({ type: 'ready', error: String(e?.message || e), marks });
    }
    return;
  }
  try {
    if (!ortPromise) throw new Error('the ORT worker was not started');
    const reply = await handle(await ortPromise, msg);
    const buffers = new Set(Object.values(reply.outputs || {}).map((t) => t.data?.buffer).filter(Boolean));
    self.postMessage({ id: msg.id, ...reply }, [...buffers]);
  } catch (e) {
    self.postMessage({ id: msg.id, error: String(e?.message || e) });
  }
};
