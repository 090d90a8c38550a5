// Diagnostic: mean cosine similarity between the embeddings of 500 random pairs of test images (1 = every image
// maps to the same direction, i.e. collapsed features).
//   node --import tsx bench/quality/feature-spread.ts dino:0 dino:150 ...   (run name : checkpoint step, 0 = init)
import { readFileSync } from 'node:fs';
import { openBackbone } from '../../src/embed/backbone.js';
import { checkpointBackbone, randomInitBackbone, type RunConfig } from './checkpoint-backbone.js';
import { loadEvalImages } from './eval-images.js';
import { Rng } from '../../src/util/rng.js';
const specs = process.argv.slice(2); // run:step
let set: Awaited<ReturnType<typeof loadEvalImages>> | undefined;
for (const s of specs) {
  const [run, st] = s.split(':'); const step = Number(st);
  const cfg = JSON.parse(readFileSync(`bench/out/q-${run}/config.json`, 'utf8')) as RunConfig;
  set ??= await loadEvalImages('bench/out/fashion-mnist/knn-test', 32, cfg.transforms.normalize.mean, cfg.transforms.normalize.std);
  const bb = step === 0 ? randomInitBackbone(cfg) : await checkpointBackbone(cfg, `bench/out/q-${run}/checkpoints/step-${step}`);
  const b = await openBackbone(bb.onnx, { device: 'cpu' });
  const rng = new Rng(3); const idx = Array.from({ length: 1000 }, () => rng.int(set!.count));
  const px = 3072; const imgs = new Float32Array(1000 * px); idx.forEach((j, i) => imgs.set(set!.images.subarray(j * px, (j + 1) * px), i * px));
  const r = await b.embed(imgs, 1000); await b.release();
  const d = r.dim; const e = r.data;
  for (let i = 0; i < 1000; i++) { let n = 0; for (let k = 0; k < d; k++) n += e[i * d + k] ** 2; n = Math.sqrt(n); for (let k = 0; k < d; k++) e[i * d + k] /= n; }
  let c = 0, m = 0;
  for (let i = 0; i < 1000; i += 2) { let dot = 0; for (let k = 0; k < d; k++) dot += e[i * d + k] * e[(i + 1) * d + k]; c += dot; m++; }
  console.log(`${run} step ${step}: mean cosine between different images ${(c / m).toFixed(4)}`);
}
