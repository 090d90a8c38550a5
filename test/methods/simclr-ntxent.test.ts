// NT-Xent (src/methods/losses/ntxent.ts) against PyTorch autograd (test/fixtures/simclr/make_ntxent.py: lightly's
// block-wise formulation in float64) and against float64 finite differences of our own graph.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Graph, Session, gradCheck } from '../../src/graph/index.js';
import { ntXentLoss } from '../../src/methods/simclr/ntxent-loss.js';
import { relErr } from '../fixtures/models/fixture.js';

interface NtXentCase {
  name: string;
  n: number;
  d: number;
  temperature: number;
  z: number[];
  loss: number;
  grad: number[];
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/simclr/ntxent.json', import.meta.url), 'utf8')) as { cases: NtXentCase[] };

/** The views enter as [2, N, D] and are flattened view-major, as the SimCLR method feeds them. */
async function lossAndGrad(temperature: number, d: number) {
  const g = new Graph();
  const views = g.input('views', [2, 'N', d]);
  const loss = ntXentLoss(g, g.reshape(views, [-1, d]), temperature);
  const [grad] = g.grad(loss, [views]);
  return Session.create(g.toBytes({ loss, grad }), { intraOpNumThreads: 1 });
}

for (const c of fx.cases) {
  test(`NT-Xent '${c.name}': loss and gradient match PyTorch`, async () => {
    const s = await lossAndGrad(c.temperature, c.d);
    const out = await s.run({ views: { data: Float32Array.from(c.z), dims: [2, c.n, c.d] } });
    await s.release();
    const loss = out.loss.data[0] as number;
    assert.ok(Math.abs(loss - c.loss) <= 1e-5 * Math.max(1, Math.abs(c.loss)), `loss ${loss} vs torch ${c.loss}`);
    assert.deepEqual(out.grad.dims, [2, c.n, c.d]);
    if (c.n === 1) {
      // one image: each anchor's only candidate is its positive, so the loss and every gradient are exactly 0
      assert.ok(loss === 0, `loss ${loss}`);
      assert.ok((out.grad.data as Float32Array).every((v) => v === 0));
      return;
    }
    const e = relErr(out.grad.data as Float32Array, c.grad);
    assert.ok(e < 2e-5, `gradient rel err ${e}`);
  });
}

test('NT-Xent: one symbolic graph serves several batch sizes', async () => {
  const c = fx.cases[0];
  const s = await lossAndGrad(c.temperature, c.d);
  // a batch that repeats case 0's images twice is a different problem: every image then has an exact duplicate
  // among the negatives, so the loss must grow
  const z = Float32Array.from(c.z);
  const N = c.n, D = c.d;
  const doubled = new Float32Array(4 * N * D);
  for (let v = 0; v < 2; v++) {
    doubled.set(z.subarray(v * N * D, (v + 1) * N * D), v * 2 * N * D);
    doubled.set(z.subarray(v * N * D, (v + 1) * N * D), v * 2 * N * D + N * D);
  }
  const a = await s.run({ views: { data: z, dims: [2, N, D] } });
  const b = await s.run({ views: { data: doubled, dims: [2, 2 * N, D] } });
  await s.release();
  assert.ok(Math.abs((a.loss.data[0] as number) - c.loss) < 1e-5 * c.loss);
  assert.ok((b.loss.data[0] as number) > c.loss + 0.1, `duplicated batch loss ${b.loss.data[0]} vs ${c.loss}`);
});

test('NT-Xent: autodiff matches float64 finite differences', async () => {
  const r = await gradCheck(
    (g) => {
      const views = g.input('views', [2, 5, 6]);
      return { loss: ntXentLoss(g, g.reshape(views, [-1, 6]), 0.2), wrt: [views] };
    },
    { samples: 6, seed: 3 },
  );
  assert.ok(r.worst < 1e-6, `worst rel err ${r.worst}`);
});

test('NT-Xent: invalid inputs are rejected', () => {
  const g = new Graph();
  assert.throws(() => ntXentLoss(g, g.input('z', [4, 2, 3]), 0.1), /rank 3/);
  assert.throws(() => ntXentLoss(g, g.input('y', [4, 3]), 0), /temperature/);
});
