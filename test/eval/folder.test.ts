// `dinotrain eval` end to end: synthetic labelled folders embedded by a tiny fixed ONNX model,
// kNN and linear probe far above chance; the CLI's JSON; folder errors.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { evalCommand } from '../../src/cli/eval.js';
import { embedFolder } from '../../src/embed/embed-folder.js';
import { evaluateEmbeddings } from '../../src/eval/evaluate-embeddings.js';
import { evaluateModel } from '../../src/eval/evaluate-model.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { CLASSES, writeLabelledSet } from '../fixtures/eval/synthetic-images.js';
import { tinyBackbone } from '../fixtures/eval/tiny-backbone.js';

let dir: string;
let model: string;
const userError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dinotrain-eval-'));
  await writeLabelledSet(join(dir, 'train'), 12, 1);
  await writeLabelledSet(join(dir, 'val'), 6, 2);
  model = join(dir, 'backbone.onnx');
  await writeFile(model, tinyBackbone());
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('kNN and linear probe on synthetic colour/texture classes are far above chance (1/3)', async () => {
  const r = await evaluateModel(model, join(dir, 'train'), join(dir, 'val'), { k: 5, batchSize: 16 });
  assert.deepEqual(r.classes, [...CLASSES]);
  assert.equal(r.trainSize, 36);
  assert.equal(r.valSize, 18);
  assert.equal(r.knnTop5, undefined, 'no top-5 with 3 classes');
  assert.ok(r.knnTop1 >= 0.9, `kNN top-1 ${r.knnTop1}`);
  assert.ok(r.linearTop1! >= 0.9, `linear top-1 ${r.linearTop1}`);
  const again = await evaluateModel(model, join(dir, 'train'), join(dir, 'val'), { k: 5, linear: false });
  assert.equal(again.knnTop1, r.knnTop1, 'deterministic');
  assert.equal(again.linearTop1, undefined);
});

test('embedFolder + evaluateEmbeddings: the same accuracy as evaluateModel; shuffled train labels fall to chance', async () => {
  const tr = await embedFolder(model, join(dir, 'train'));
  const va = await embedFolder(model, join(dir, 'val'));
  const label = (f: string) => CLASSES.indexOf(f.split('/')[0] as (typeof CLASSES)[number]);
  const trLabels = tr.files.map(label);
  const vaLabels = va.files.map(label);
  const r = await evaluateEmbeddings(tr, trLabels, va, vaLabels, { k: 5, linear: false });
  const viaModel = await evaluateModel(model, join(dir, 'train'), join(dir, 'val'), { k: 5, linear: false });
  assert.equal(r.knnTop1, viaModel.knnTop1);
  const shuffled = [...trLabels];
  new Rng(1).shuffle(shuffled);
  const control = await evaluateEmbeddings(tr, shuffled, va, vaLabels, { k: 5 });
  assert.ok(control.knnTop1 < 0.6 && control.linearTop1! < 0.6, `shuffled labels: kNN ${control.knnTop1}, linear ${control.linearTop1}`);
});

test('eval CLI --json prints kNN and linear results', async () => {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // Only strings are ours; the test runner's own protocol goes through as Buffers.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => {
    if (typeof s !== 'string') return write(s, ...rest);
    chunks.push(s);
    return true;
  }) as typeof process.stdout.write;
  try {
    await evalCommand().parseAsync(['--model', model, '--train', join(dir, 'train'), '--val', join(dir, 'val'), '--k', '5', '--json', '--quiet'], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  const j = JSON.parse(chunks.join('')) as { knn: { k: number; top1: number; top5: null }; linear: { top1: number; weightDecay: number }; classes: string[] };
  assert.equal(j.knn.k, 5);
  assert.ok(j.knn.top1 >= 0.9);
  assert.equal(j.knn.top5, null);
  assert.ok(j.linear.top1 >= 0.9);
  assert.deepEqual(j.classes, [...CLASSES]);
});

test('folder errors: no class folders, one class, unknown val class, missing folder, empty class folders', async () => {
  const flat = join(dir, 'flat-train');
  await mkdir(flat);
  await writeFile(join(flat, 'a.png'), 'x');
  await assert.rejects(evaluateModel(model, flat, join(dir, 'val')), userError(/no class folders/));
  const one = join(dir, 'one-class');
  await mkdir(join(one, 'red'), { recursive: true });
  await writeFile(join(one, 'red', 'a.png'), 'not read before the class check');
  await assert.rejects(evaluateModel(model, one, join(dir, 'val')), userError(/at least 2 classes/));
  const extra = join(dir, 'val-extra');
  await writeLabelledSet(extra, 1, 4);
  await mkdir(join(extra, 'zebra'));
  await writeFile(join(extra, 'zebra', 'z.png'), 'x');
  await assert.rejects(evaluateModel(model, join(dir, 'train'), extra), userError(/'zebra'.*no counterpart/));
  await assert.rejects(evaluateModel(model, join(dir, 'nope'), join(dir, 'val')), userError(/--train folder not found/));
  await assert.rejects(evaluateModel(join(dir, 'missing.onnx'), join(dir, 'nope'), join(dir, 'val')), userError(/model file not found/), 'model checked before folders');
  const empty = join(dir, 'empty-classes');
  await mkdir(join(empty, 'a'), { recursive: true });
  await mkdir(join(empty, 'b'), { recursive: true });
  await assert.rejects(evaluateModel(model, empty, join(dir, 'val')), userError(/no images in any class folder/));
});

test('evaluateEmbeddings: top-5 only with >= 5 classes; accuracies are fractions', async () => {
  const rng = new Rng(9);
  const dim = 6;
  const classes = 5;
  const centers = Array.from({ length: classes }, () => Array.from({ length: dim }, () => rng.normal() * 3));
  const make = (n: number) => {
    const labels = Array.from({ length: n }, (_, i) => i % classes);
    const data = Float32Array.from({ length: n * dim }, (_, t) => centers[labels[Math.floor(t / dim)]][t % dim] + rng.normal());
    return { data, labels };
  };
  const tr = make(100);
  const va = make(50);
  const r = await evaluateEmbeddings({ data: tr.data, dim }, tr.labels, { data: va.data, dim }, va.labels, { k: 20, T: 0.07 });
  assert.ok(r.knnTop5 !== undefined && r.knnTop5 >= r.knnTop1);
  assert.ok(r.knnTop1 > 0.6 && r.knnTop1 <= 1, `${r.knnTop1}`);
  assert.ok(r.linearTop1! > 0.6 && r.linearTop1! <= 1, `${r.linearTop1}`);
});
