import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import path from 'node:path';
const lib = await import(process.env.LIB);
const dir = process.argv[2];
const row = JSON.parse(await fs.readFile(process.argv[3], 'utf8'));
await tf.setBackend('cpu');
const m = await lib.loadTfjs(tf, (n) => fs.readFile(path.join(dir, n)));
for (let i = 0; i < 3000; i++) await m.predict(row);
const t = [];
for (let i = 0; i < 3000; i++) { const t0 = performance.now(); await m.predict(row); t.push(performance.now() - t0); }
t.sort((a, b) => a - b);
console.log('p50 us', (t[1500] * 1000).toFixed(1));
// per-kernel
const X = m.encoder.encodeMany([row]);
const agg = {};
for (let r = 0; r < 200; r++) {
  const info = await tf.profile(async () => { const o = await m.backend.run(X, 1); });
  for (const k of info.kernels) { const a = agg[k.name] ||= { n: 0, ms: 0 }; a.n++; a.ms += k.kernelTimeMs; }
}
const rows = Object.entries(agg).sort((a, b) => b[1].ms - a[1].ms);
for (const [name, a] of rows) console.log(name.padEnd(20), (a.n / 200).toFixed(0).padStart(3), (a.ms / 200 * 1000).toFixed(1).padStart(8), 'us');
