// The TF.js the web page loads: @tensorflow/tfjs-core, the graph-model loader of
// @tensorflow/tfjs-converter and the cpu backend (the same 4.22.0 code @tensorflow/tfjs
// re-exports), without the layers API, tf.data and the WebGL backend the page never uses: half
// the bytes of tf.fesm.min.js to download, parse and evaluate before the first answer.
// Bundled into one ES module for browsers (dist/tfjs-cpu.mjs; it does not load in Node) by
// `npm run build` (esbuild, a dependency so that `npm ci --omit=dev` builds it too), which
// `npm ci` runs (postinstall; with --ignore-scripts, run it yourself). Node (src/runner.js)
// imports @tensorflow/tfjs itself.
import { version_converter as converter } from '@tensorflow/tfjs-converter';
import { version_core as core } from '@tensorflow/tfjs-core';
import { version_cpu as cpu } from '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
export { GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';

/** As @tensorflow/tfjs's `version`: estuary.js reports `version.tfjs`. */
export const version = { tfjs: core, 'tfjs-core': core, 'tfjs-converter': converter, 'tfjs-backend-cpu': cpu };
