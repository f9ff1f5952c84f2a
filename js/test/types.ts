// Compiled (never run) by `npm run check-types`: the declarations in types/estuary.d.ts resolve
// through the package's `exports` and accept the real runtimes' own types.
import * as ort from 'onnxruntime-web';
import * as tf from '@tensorflow/tfjs';
import {
  EstuaryModel, GoldenCheckError, InvalidInputError, checkManifest, httpReader, loadOnnx, loadTfjs,
  type Manifest, type Prediction, type Row,
} from 'estuary-js';

export function artifactOf(json: unknown): string | null {
  const manifest: Manifest = checkManifest(json, 3);
  return manifest.formats.onnx?.file ?? null;
}

export async function example(bytes: Uint8Array): Promise<Prediction[]> {
  const onnx: EstuaryModel = await loadOnnx(ort, bytes);
  const tfjs: EstuaryModel = await loadTfjs(tf, httpReader('/models/latest/model.tfjs/'), { check: true });
  const row: Row = { x: 1.5, colour: 'red', flag: true, gone: null };
  try {
    const one = await onnx.predict(row);
    if ('label' in one) console.log(one.label, one.probabilities[0], onnx.classes);
    return [one, ...(await tfjs.predictMany([row]))];
  } catch (e) {
    if (e instanceof InvalidInputError) console.log(e.field);
    if (e instanceof GoldenCheckError) console.log(e.message);
    throw e;
  }
}
