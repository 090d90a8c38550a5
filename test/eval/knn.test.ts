// kNN classifier vs. a PyTorch reference mirroring DINO's eval_knn.py (test/fixtures/eval/make_knn.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { knnClassify, topK } from '../../src/eval/knn.js';
import { matrix } from '../../src/eval/matrix.js';

interface KnnCase {
  numClasses: number;
  dim: number;
  train: number[];
  trainLabels: number[];
  val: number[];
  valLabels: number[];
  results: { k: number; T: number; top1: number; top5: number; predictions: number[][]; votes: number[][] }[];
}

const ref = JSON.parse(readFileSync(new URL('../fixtures/eval/knn_reference.json', import.meta.url), 'utf8')) as { cases: KnnCase[] };

test('topK: largest first, ties to the lower index', () => {
  assert.deepEqual(topK(Float64Array.from([0.1, 0.9, 0.5, 0.9, -1, 0.5]), 4), [1, 3, 2, 5]);
  assert.deepEqual(topK(Float64Array.from([3, 1, 2]), 5), [0, 2, 1]);
  assert.deepEqual(topK(Float64Array.from([0, 0, 0]), 2), [0, 1]);
});

for (const c of ref.cases) {
  for (const r of c.results) {
    test(`kNN matches the PyTorch reference: ${c.numClasses} classes, k=${r.k}, T=${r.T}`, async () => {
      const train = matrix(Float32Array.from(c.train), c.dim);
      const val = matrix(Float32Array.from(c.val), c.dim);
      const got = await knnClassify(train, c.trainLabels, val, c.valLabels, { k: r.k, temperature: r.T, numClasses: c.numClasses });
      assert.equal(got.top1, r.top1);
      assert.equal(got.top5, r.top5);
      assert.deepEqual(got.predictions, r.predictions);
      for (let v = 0; v < val.rows; v++) {
        const row = got.votes.subarray(v * c.numClasses, (v + 1) * c.numClasses);
        const sum = row.reduce((a, b) => a + b, 0);
        for (let k = 0; k < c.numClasses; k++) {
          // similarities are float32 here, float64 in the reference: exp(s/T) carries ~1e-7/T relative error
          const want = r.votes[v][k];
          assert.ok(Math.abs(row[k] / sum - want) <= 1e-9 + 1e-4 * want, `vote share val ${v} class ${k}: ${row[k] / sum} vs ${want}`);
        }
      }
    });
  }
}

test('kNN: k larger than the train set is capped; scale of features does not matter (cosine)', async () => {
  const c = ref.cases[1];
  const train = matrix(Float32Array.from(c.train), c.dim);
  const scaled = matrix(Float32Array.from(c.train, (x, i) => x * (1 + (Math.floor(i / c.dim) % 7))), c.dim);
  const val = matrix(Float32Array.from(c.val), c.dim);
  const a = await knnClassify(train, c.trainLabels, val, c.valLabels, { k: 20, temperature: 0.07 });
  const b = await knnClassify(scaled, c.trainLabels, val, c.valLabels, { k: 20, temperature: 0.07 });
  assert.deepEqual(b.predictions, a.predictions);
  const capped = await knnClassify(train, c.trainLabels, val, c.valLabels, { k: 10_000, temperature: 0.07 });
  assert.equal(capped.k, train.rows);
});

test('kNN: a tiny temperature does not overflow', async () => {
  const c = ref.cases[0];
  const got = await knnClassify(matrix(Float32Array.from(c.train), c.dim), c.trainLabels, matrix(Float32Array.from(c.val), c.dim), c.valLabels, {
    k: 20,
    temperature: 1e-4,
  });
  assert.ok(got.votes.every(Number.isFinite));
  // T -> 0 makes the vote the nearest neighbour's: same as k = 1 (the fixture's k=1 case).
  assert.equal(got.top1, c.results.find((r) => r.k === 1)!.top1);
});
