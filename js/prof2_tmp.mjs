import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import path from 'node:path';
const lib = await import(process.env.LIB);
const dir = process.argv[2];
const row = JSON.parse(await fs.readFile(process.argv[3], 'utf8'));
await tf.setBackend('cpu');
const m = await lib.loadTfjs(tf, (n) => fs.readFile(path.join(dir, n)));
const X = m.encoder.encodeMany([row]);
const bench = async (name, f) => {
  for (let i = 0; i < 3000; i++) await f();
  const t = [];
  for (let i = 0; i < 5000; i++) { const t0 = performance.now(); await f(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  console.log(name.padEnd(12), (t[2500] * 1000).toFixed(1));
};
await bench('predict', () => m.predict(row));
await bench('run', () => m.backend.run(X, 1));
const input = tf.tensor2d(Float32Array.from(X), [1, m.encoder.nColumns]);
const keys = tf.tensor2d(lib.orderKeys(X, 1, m.encoder.nColumns), [1, 4 * m.encoder.nColumns + 1]);
await bench('execute', () => { const o = m.backend.model.execute({ input, keys }, m.backend.outputs); o.forEach((t) => t.dataSync()); tf.dispose(o); });
await bench('encode', () => m.encoder.encodeMany([row]));
await bench('keys', () => lib.orderKeys(X, 1, m.encoder.nColumns));
