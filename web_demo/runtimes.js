// The two runtimes, started as early as the page allows.
//
// onnxruntime-web's wasm (14 MB) is most of the time to the first prediction: download, compile
// and the runtime's own start-up (static initialisers registering its kernels). index.html loads
// this module `async`, so it runs before the app and the model are even fetched: it imports
// onnxruntime-web and creates (and runs) a 77-byte Identity model, which downloads, compiles and
// initialises the wasm meanwhile; the app's real session then starts in a warm runtime. With
// ?runtime=tfjs it starts @tensorflow/tfjs (cpu backend) instead.

const TINY = 'CAgSB2VzdHVhcnk6OgoQCgF4EgF5IghJZGVudGl0eRIEd2FybVoPCgF4EgoKCAgLEgQKAggBYg8KAXkSCgoICAsSBAoCCAFCBAoAEA0=';

let promise = null;

/** onnxruntime-web, configured (local wasm, one thread, no proxy worker) and initialised. */
export function getOrt() {
  promise ??= (async () => {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    // the .wasm next to the module, served by `estuary serve` as application/wasm: no CDN
    ort.env.wasm.wasmPaths = new URL('./', import.meta.resolve('onnxruntime-web')).href;
    ort.env.logLevel = 'error';
    const bytes = Uint8Array.from(atob(TINY), (c) => c.charCodeAt(0));
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      await session.run({ x: new ort.Tensor('float64', Float64Array.of(0), [1]) });
    } catch (e) {
      throw new Error(`onnxruntime-web could not start its wasm (${e.message || e}); ` +
        'is js/node_modules installed (npm ci --prefix js)?');
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

if (new URLSearchParams(window.location.search).get('runtime') === 'tfjs') getTf().catch(() => {});
else getOrt().catch(() => {});
