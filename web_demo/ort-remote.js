// onnxruntime-web running in web_demo/ort-worker.js, seen from the page as the part of ORT's
// API that lib.loadOnnx and its backend use: InferenceSession.create(bytes, options),
// session.run(feeds) / release(), new Tensor(type, data, dims) and env.versions. Each call is a
// message to the worker and its answer (input and output data are transferred, not copied).

/** The worker's ORT once it has started (rejects with the worker's reason if it could not). */
export function remoteOrt(worker) {
  const pending = new Map(); // message id → {resolve, reject}
  let nextId = 1;
  let ready;
  const started = new Promise((resolve, reject) => { ready = { resolve, reject }; });
  worker.addEventListener('message', ({ data }) => {
    if (data.type === 'ready') {
      // the worker's steps, on the page's timeline (benchmarks/browser.py reads them)
      for (const [name, t] of Object.entries(data.marks || {})) {
        performance.mark(`estuary:${name}`, { startTime: Math.max(0, t - performance.timeOrigin) });
      }
      if (data.error) ready.reject(new Error(data.error));
      else ready.resolve(data.versions);
      return;
    }
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    if (data.error) p.reject(new Error(data.error));
    else p.resolve(data);
  });
  worker.addEventListener('error', (ev) => {
    const e = new Error(`the ORT worker failed: ${ev.message || 'it could not be loaded'}`);
    ready.reject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  });
  const call = (msg, transfer = []) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, ...msg }, transfer);
  });

  class Tensor {
    constructor(type, data, dims) {
      Object.assign(this, { type, data, dims });
    }
  }

  class RemoteSession {
    constructor(reply) {
      this.id = reply.session;
      this.inputNames = reply.inputNames;
      this.outputNames = reply.outputNames;
    }

    async run(feeds) {
      const plain = {};
      const buffers = new Set();
      for (const [name, t] of Object.entries(feeds)) {
        plain[name] = { type: t.type, data: t.data, dims: t.dims };
        buffers.add(t.data.buffer);
      }
      const { outputs } = await call({ op: 'run', session: this.id, feeds: plain }, [...buffers]);
      return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, new Tensor(t.type, t.data, t.dims)]));
    }

    release() {
      return call({ op: 'release', session: this.id }).then(() => {}, () => {});
    }
  }

  const InferenceSession = {
    async create(bytes, options) {
      const copy = new Uint8Array(bytes); // the caller keeps its bytes; the copy is transferred
      return new RemoteSession(await call({ op: 'create', bytes: copy, options }, [copy.buffer]));
    },
  };

  return started.then((versions) => ({ InferenceSession, Tensor, env: { versions }, remote: true }));
}
