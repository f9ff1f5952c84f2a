import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import path from 'node:path';
const lib = await import(process.env.LIB);
const dir = process.argv[2];
const row = JSON.parse(await fs.readFile(process.argv[3], 'utf8'));
await tf.setBackend('cpu');
const m = await lib.loadTfjs(tf, (n) => fs.readFile(path.join(dir, n)));
const X = m.encoder.encodeMany([row]);
const input = tf.tensor2d(Float32Array.from(X), [1, m.encoder.nColumns]);
const keys = tf.tensor2d(lib.orderKeys(X, 1, m.encoder.nColumns), [1, 4 * m.encoder.nColumns + 1]);
for (let i = 0; i < 40000; i++) { const o = m.backend.model.execute({ input, keys }, m.backend.outputs); o.forEach((t) => t.dataSync()); tf.dispose(o); }
