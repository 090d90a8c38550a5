// Diagnostic for BatchNorm backbones: kNN with eval-mode BN (running statistics, as exported) vs train-mode BN
// (statistics of each 500-image batch of shuffled images) on N train / N test images. If the running statistics
// were stale or wrong, the two would disagree at the end of training.
//   node --import tsx bench/quality/bn-check.ts <run> <N> <steps, e.g. 0,50,200>
import { readFileSync } from 'node:fs';
import { Graph, toBytes } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { openBackbone } from '../../src/embed/backbone.js';
import { evaluateEmbeddings } from '../../src/eval/evaluate-embeddings.js';
import { runModel, type RunConfig } from './checkpoint-backbone.js';
import { initParams } from '../../src/models/params.js';
import { Rng } from '../../src/util/rng.js';
import { loadEvalImages } from './eval-images.js';
const run = process.argv[2] ?? 'simclr';
const cfg = JSON.parse(readFileSync(`bench/out/q-${run}/config.json`, 'utf8')) as RunConfig;
const model = runModel(cfg);
const { mean, std } = cfg.transforms.normalize;
const N = Number(process.argv[3] ?? 5000);
const tr = await loadEvalImages('bench/out/fashion-mnist/knn-train', 32, mean, std);
const te = await loadEvalImages('bench/out/fashion-mnist/knn-test', 32, mean, std, tr.classes);
for (const set of [tr, te]) {
  const perm = Array.from({ length: set.count }, (_, i) => i); new Rng(7).shuffle(perm);
  const px = 3 * 32 * 32; const im = new Float32Array(set.images.length); const lb = new Int32Array(set.count);
  perm.forEach((j, i) => { im.set(set.images.subarray(j * px, (j + 1) * px), i * px); lb[i] = set.labels[j]; });
  set.images = im; set.labels = lb;
}
function onnx(values: Map<string, Float32Array>, bnMode: 'train' | 'eval') {
  const g = new Graph({ name: 'b', paramValues: values });
  const P = graphParams(g, model.spec().filter((p) => values.has(p.name)));
  const out = model.forward(g, P, g.input('images', ['N', 3, 32, 32]), { bnMode });
  return toBytes(g, { embedding: out.cls }, { metadata: { image_size: '32', mean: JSON.stringify(mean), std: JSON.stringify(std), model: model.name, method: cfg.method } }).bytes;
}
async function embed(bytes: Uint8Array, set: typeof tr) {
  const b = await openBackbone(bytes, { device: 'cpu' });
  const px = 3 * 32 * 32; let out: Float32Array | undefined; let dim = 0;
  for (let s = 0; s < N; s += 500) { const r = await b.embed(set.images.subarray(s * px, (s + 500) * px), 500); if (!out) { dim = r.dim; out = new Float32Array(N * dim); } out.set(r.data, s * dim); }
  await b.release(); return { data: out!, dim };
}
for (const step of (process.argv[4] ?? '0,50,200').split(',').map(Number)) {
  let values: Map<string, Float32Array>;
  if (step === 0) values = initParams(model.spec(), new Rng(cfg.seed).fork(0x5eed));
  else {
    const f = await readSafetensors(`bench/out/q-${run}/checkpoints/step-${step}/model.safetensors`);
    const pre = cfg.method === 'simclr' ? 'student.' : 'teacher.';
    values = new Map(model.spec().map((p) => [p.name, Float32Array.from(f.tensors.get(pre + p.name)!.data as ArrayLike<number>)]));
  }
  const res: string[] = [];
  for (const mode of ['eval', 'train'] as const) {
    const bytes = onnx(values, mode);
    const a = await embed(bytes, tr), b = await embed(bytes, te);
    const r = await evaluateEmbeddings(a, tr.labels.subarray(0, N), b, te.labels.subarray(0, N), { linear: false, numClasses: 10 });
    res.push(`${mode}-BN ${(100 * r.knnTop1).toFixed(2)}%`);
  }
  console.log(`step ${step}: ${res.join('  ')}`);
}
