// Linear probe: L-BFGS softmax regression vs. the PyTorch optimum (test/fixtures/eval/make_linear.py),
// the gradient vs. finite differences, and the probe's weight-decay selection on clustered data.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { linearProbe } from '../../src/eval/linear-probe.js';
import { matrix } from '../../src/eval/matrix.js';
import { fitSoftmaxRegression, softmaxProblem } from '../../src/eval/softmax-regression.js';
import { Rng } from '../../src/util/rng.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/eval/linear_reference.json', import.meta.url), 'utf8')) as {
  n: number;
  dim: number;
  classes: number;
  X: number[];
  y: number[];
  cases: { weightDecay: number; loss: number; W: number[]; b: number[] }[];
};

test('softmax regression objective: gradient matches central finite differences, loss matches a direct JS sum', async () => {
  const rng = new Rng(3);
  const X = Float64Array.from(ref.X.slice(0, 20 * ref.dim));
  const y = ref.y.slice(0, 20);
  const problem = await softmaxProblem(X, y, ref.dim, ref.classes);
  const f = problem.objective(0.05);
  const p = Float64Array.from({ length: ref.classes * ref.dim + ref.classes }, () => rng.normal() * 0.5);
  const g = new Float64Array(p.length);
  const loss = await f(p, g);
  // direct: mean over samples of logsumexp(z) - z_y, plus 0.025 * ||W||^2
  const C = ref.classes;
  const d = ref.dim;
  let direct = 0;
  for (let i = 0; i < y.length; i++) {
    const z = Array.from({ length: C }, (_, c) => p[C * d + c] + Array.from({ length: d }, (_, j) => X[i * d + j] * p[c * d + j]).reduce((a, b) => a + b, 0));
    const m = Math.max(...z);
    direct += (m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) - z[y[i]]) / y.length;
  }
  for (let j = 0; j < C * d; j++) direct += 0.025 * p[j] * p[j];
  assert.ok(Math.abs(loss - direct) < 1e-12, `loss ${loss} vs ${direct}`);
  const scratch = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const h = 1e-6;
    const plus = Float64Array.from(p);
    const minus = Float64Array.from(p);
    plus[i] += h;
    minus[i] -= h;
    const fd = ((await f(plus, scratch)) - (await f(minus, scratch))) / (2 * h);
    assert.ok(Math.abs(fd - g[i]) < 1e-7, `param ${i}: fd ${fd} vs grad ${g[i]}`);
  }
  await problem.release();
});

for (const c of ref.cases) {
  test(`L-BFGS reaches the PyTorch optimum (weight decay ${c.weightDecay})`, async () => {
    const problem = await softmaxProblem(Float64Array.from(ref.X), ref.y, ref.dim, ref.classes);
    const r = await fitSoftmaxRegression(problem, ref.dim, ref.classes, c.weightDecay, { maxIterations: 1000 });
    await problem.release();
    assert.ok(r.converged, 'converged');
    assert.ok(Math.abs(r.loss - c.loss) < 1e-9, `loss ${r.loss} vs ${c.loss}`);
    const w = r.model.weights;
    const refParams = [...c.W, ...c.b];
    // Adding a constant to every bias leaves the softmax unchanged (b is not decayed): compare W
    // directly and b after removing its mean.
    for (let i = 0; i < c.W.length; i++) assert.ok(Math.abs(w[i] - refParams[i]) < 1e-4, `W[${i}] ${w[i]} vs ${refParams[i]}`);
    const off = ref.classes * ref.dim;
    const shift = (arr: ArrayLike<number>, start: number) => {
      let m = 0;
      for (let k = 0; k < ref.classes; k++) m += arr[start + k] / ref.classes;
      return m;
    };
    const ms = shift(w, off);
    const mr = shift(refParams, off);
    for (let k = 0; k < ref.classes; k++) assert.ok(Math.abs(w[off + k] - ms - (refParams[off + k] - mr)) < 1e-4, `b[${k}]`);
  });
}

function clustered(rng: Rng, n: number, classes: number, dim: number, centers: number[][], spread: number) {
  const data = new Float32Array(n * dim);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels.push(c);
    for (let j = 0; j < dim; j++) data[i * dim + j] = centers[c][j] + spread * rng.normal();
  }
  return { m: matrix(data, dim), labels };
}

test('linear probe: far above chance on separable clusters, picks a weight decay from the grid on held-out train', async () => {
  const rng = new Rng(11);
  const classes = 6;
  const dim = 10;
  const centers = Array.from({ length: classes }, () => Array.from({ length: dim }, () => rng.normal() * 2));
  const train = clustered(rng, 240, classes, dim, centers, 0.8);
  const val = clustered(rng, 120, classes, dim, centers, 0.8);
  const r = await linearProbe(train.m, train.labels, val.m, val.labels, { weightDecays: [1e-1, 1e-3] });
  assert.ok(r.top1 > 0.9, `top1 ${r.top1}`);
  assert.ok(r.top5! >= r.top1);
  assert.equal(r.selection.length, 2);
  assert.ok([1e-1, 1e-3].includes(r.weightDecay));
  const best = Math.max(...r.selection.map((s) => s.heldOutTop1));
  assert.equal(r.selection.find((s) => s.weightDecay === r.weightDecay)!.heldOutTop1, best);
  // Deterministic: same inputs, same answer.
  assert.deepEqual(await linearProbe(train.m, train.labels, val.m, val.labels, { weightDecays: [1e-1, 1e-3] }), r);
});

test('linear probe: random labels stay near chance on val', async () => {
  const rng = new Rng(5);
  const dim = 8;
  const mk = (n: number) => ({
    m: matrix(Float32Array.from({ length: n * dim }, () => rng.normal()), dim),
    labels: Array.from({ length: n }, () => rng.int(4)),
  });
  const train = mk(200);
  const val = mk(400);
  const r = await linearProbe(train.m, train.labels, val.m, val.labels);
  assert.ok(r.top1 < 0.4, `top1 ${r.top1} should be near chance (0.25)`);
});
