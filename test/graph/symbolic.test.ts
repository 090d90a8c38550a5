// Symbolic batch dims: one graph, built once with batch 'N', runs at several batch sizes and gives the same loss
// and gradients as graphs built with that batch size baked in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Dim, type Tensor } from '../../src/graph/index.js';
import { gradCheck } from '../../src/graph/gradcheck.js';
import { Rng } from '../../src/util/rng.js';

const D = 6, K = 5;
const PARAMS: [string, number[]][] = [
  ['patch.w', [D, 3, 4, 4]], ['patch.b', [D]], ['cls', [1, 1, D]], ['pos', [1, 5, D]], ['ln.g', [D]], ['ln.b', [D]],
  ['head.w', [K, D]], ['head.b', [K]],
];

/** Two views of a batch through a conv-patch "ViT", a cross-view soft cross-entropy, a KoLeo-style term. */
function build(g: Graph, N: Dim, useConv = true, detachTeacher = true): { loss: Tensor; params: Tensor[] } {
  const p = Object.fromEntries(PARAMS.map(([n, s]) => [n, g.param(n, s)]));
  const x1 = g.input('x1', [N, 3, 8, 8]), x2 = g.input('x2', [N, 3, 8, 8]);
  const x = g.concat([x1, x2], 0); // [2N, 3, 8, 8]
  let tokens: Tensor; // [2N, 4, D]
  if (useConv) tokens = g.transpose(g.reshape(g.conv(x, p['patch.w'], p['patch.b'], { strides: [4, 4] }), [-1, D, 4]), [0, 2, 1]);
  else {
    // the same patch embedding as reshape + linear (ORT has no float64 Conv)
    const patches = g.reshape(g.transpose(g.reshape(x, [-1, 3, 2, 4, 2, 4]), [0, 2, 4, 1, 3, 5]), [-1, 4, 48]);
    tokens = g.linear(patches, g.reshape(p['patch.w'], [D, 48]), p['patch.b']);
  }
  const B = tokens.shape[0];
  const z = g.add(g.concat([g.expand(p.cls, [B, 1, D]), tokens], 1), p.pos); // [2N, 5, D]
  const c = g.layerNorm(g.add(g.gather(z, 0, 1), g.reduceMean(z, [1], false)), p['ln.g'], p['ln.b'], 1e-6); // [2N, D]
  const s = g.linear(g.gelu(c), p['head.w'], p['head.b']); // [2N, K]
  const [s1, s2] = g.split(s, 0, 2); // [N, K] each
  const t2 = g.softmax(g.div(detachTeacher ? g.stopGradient(s2) : s2, 0.5)); // FD sees through a stop-gradient
  const ce = g.reduceMean(g.neg(g.reduceSum(g.mul(t2, g.logSoftmax(s1)), [-1], false)), [0], false);
  // KoLeo-style: distance to the nearest other sample in the batch (diagonal masked out)
  const e = g.l2Normalize(s1, -1);
  const diff = g.sub(g.unsqueeze(e, [1]), g.unsqueeze(e, [0])); // [N, N, K]
  const d2 = g.where(g.eyeMask(N), 1e6, g.reduceSum(g.mul(diff, diff), [-1], false));
  const koleo = g.neg(g.reduceMean(g.log(g.add(g.sqrt(g.reduceMin(d2, [1], false)), 1e-8)), [0], false));
  return { loss: g.add(ce, g.mul(koleo, 0.1)), params: PARAMS.map(([n]) => p[n]) };
}

function data(seed: number, batch: number) {
  const rng = new Rng(seed);
  const arr = (n: number, scale = 1) => Float32Array.from({ length: n }, () => rng.normal() * scale);
  const params: Record<string, Float32Array> = {};
  for (const [n, s] of PARAMS) params[n] = arr(s.reduce((a, b) => a * b, 1), 0.3);
  return { params, x1: arr(batch * 3 * 64), x2: arr(batch * 3 * 64) };
}

async function run(bytes: Uint8Array, batch: number, sess?: Session) {
  const s = sess ?? (await Session.create(bytes, { intraOpNumThreads: 1 }));
  const d = data(batch, batch);
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
    x1: { data: d.x1, dims: [batch, 3, 8, 8] },
    x2: { data: d.x2, dims: [batch, 3, 8, 8] },
  };
  for (const [n, sh] of PARAMS) feeds[n] = { data: d.params[n], dims: sh };
  return s.run(feeds);
}

function graphBytes(N: Dim): Uint8Array {
  const g = new Graph();
  const { loss, params } = build(g, N);
  const grads = g.grad(loss, params);
  const outs: Record<string, Tensor> = { loss };
  PARAMS.forEach(([n], i) => (outs[`grad:${n}`] = grads[i]));
  return g.toBytes(outs);
}

test('symbolic shapes are inferred through the ops', () => {
  const g = new Graph();
  const x = g.input('x', ['N', 4, 6]);
  assert.deepEqual(g.reshape(x, [-1, 6]).shape, ['4*N', 6]);
  assert.deepEqual(g.reshape(g.reshape(x, [-1, 6]), [-1, 4, 6]).shape, ['N', 4, 6]);
  assert.deepEqual(g.concat([x, x], 0).shape, ['2*N', 4, 6]);
  assert.deepEqual(g.split(g.concat([x, x, x], 0), 0, 3)[2].shape, ['N', 4, 6]);
  assert.deepEqual(g.add(x, g.input('y', [1, 4, 1])).shape, ['N', 4, 6]);
  assert.deepEqual(g.matmul(x, g.input('w', [6, 2])).shape, ['N', 4, 2]);
  assert.deepEqual(g.reduceMean(x, [0], false).shape, [4, 6]);
  assert.throws(() => g.add(x, g.input('z', ['M', 4, 6])), /broadcast/);
});

test('one graph with a symbolic batch runs at batch 2 and 5 and matches graphs with the batch baked in', async () => {
  const bytes = graphBytes('N');
  const sess = await Session.create(bytes, { intraOpNumThreads: 1 });
  for (const batch of [2, 5]) {
    const dyn = await run(bytes, batch, sess);
    const fixed = await run(graphBytes(batch), batch);
    const l = dyn.loss.data[0] as number;
    assert.ok(Number.isFinite(l));
    assert.ok(Math.abs(l - (fixed.loss.data[0] as number)) <= 1e-6 * Math.abs(l), `batch ${batch}: loss ${l} vs ${fixed.loss.data[0]}`);
    for (const [n] of PARAMS) {
      const a = dyn[`grad:${n}`].data as Float32Array, b = fixed[`grad:${n}`].data as Float32Array;
      let md = 0, mb = 0;
      for (let i = 0; i < a.length; i++) [md, mb] = [Math.max(md, Math.abs(a[i] - b[i])), Math.max(mb, Math.abs(b[i]))];
      assert.ok(mb > 0 && md <= 1e-5 * mb, `batch ${batch} grad ${n}: ${md} / ${mb}`);
    }
  }
  // the two batch sizes give different losses (the batch really changed)
  assert.notEqual((await run(bytes, 2, sess)).loss.data[0], (await run(bytes, 5, sess)).loss.data[0]);
});

test('gradients through symbolic reshapes, splits and batch means match finite differences (float64, batch 3)', async () => {
  const r = await gradCheck((g) => {
    const { loss, params } = build(g, 'N', false, false);
    return { loss, wrt: [...params, g.inputs.find((t) => t.name === 'x1')!] };
  }, { dims: { x1: [3, 3, 8, 8], x2: [3, 3, 8, 8] }, samples: 3 });
  assert.ok(r.worst < 1e-6, JSON.stringify(r.tensors.map((t) => [t.name, t.relErr])));
});

test('NT-Xent over a symbolic 2N x 2N similarity matrix (diagonal masked) matches a plain JS computation', async () => {
  const tau = 0.5, K2 = 3;
  const g = new Graph();
  const a = g.input('a', ['N', K2]), b = g.input('b', ['N', K2]);
  const z = g.l2Normalize(g.concat([a, b], 0), -1); // [2N, K]
  const B2 = z.shape[0];
  const sim = g.div(g.matmul(z, g.transpose(z)), tau);
  const logp = g.logSoftmax(g.where(g.eyeMask(B2), -1e9, sim), -1);
  // the positive of row i is row i+N (mod 2N): the diagonals of the two off-diagonal N x N blocks
  const [top, bottom] = g.split(logp, 0, 2); // [N, 2N] each
  const tr = g.split(top, 1, 2)[1], bl = g.split(bottom, 1, 2)[0];
  const eyeN = g.cast(g.eyeMask(a.shape[0]), 'float');
  const posSum = g.add(g.reduceSum(g.mul(tr, eyeN), undefined, false), g.reduceSum(g.mul(bl, eyeN), undefined, false));
  const loss = g.div(g.neg(posSum), g.dimScalar(B2));
  const s = await Session.create(g.toBytes({ loss }));
  for (const N of [2, 4]) {
    const rng = new Rng(N);
    const A = Float32Array.from({ length: N * K2 }, () => rng.normal()), Bv = Float32Array.from({ length: N * K2 }, () => rng.normal());
    const got = (await s.run({ a: { data: A, dims: [N, K2] }, b: { data: Bv, dims: [N, K2] } })).loss.data[0] as number;
    // reference
    const rows: number[][] = [];
    for (let i = 0; i < 2 * N; i++) {
      const src = i < N ? A : Bv, o = (i % N) * K2;
      const v = Array.from(src.subarray(o, o + K2));
      const nrm = Math.hypot(...v);
      rows.push(v.map((x) => x / nrm));
    }
    let ref = 0;
    for (let i = 0; i < 2 * N; i++) {
      const sims = rows.map((r, j) => (j === i ? -Infinity : r.reduce((acc, x, k) => acc + x * rows[i][k], 0) / tau));
      const m = Math.max(...sims), lse = m + Math.log(sims.reduce((acc, x) => acc + Math.exp(x - m), 0));
      ref += -(sims[(i + N) % (2 * N)] - lse);
    }
    ref /= 2 * N;
    assert.ok(Math.abs(got - ref) < 1e-5 * Math.abs(ref), `N=${N}: ${got} vs ${ref}`);
  }
});

test('concat of unequal symbolic sizes (N and 2*N) differentiates through a run-time Split', async () => {
  const r = await gradCheck((g) => {
    const a = g.input('a', ['N', 3]), b = g.input('b', ['2*N', 3]);
    const c = g.concat([a, b], 0); // [3*N, 3]
    assert.deepEqual(c.shape, ['3*N', 3]);
    const w = g.input('w', ['3*N', 3]);
    return { loss: g.reduceSum(g.mul(g.exp(c), w), undefined, false), wrt: [a, b] };
  }, { dims: { a: [2, 3], b: [4, 3], w: [6, 3] } });
  assert.ok(r.worst < 1e-6, JSON.stringify(r.tensors.map((t) => [t.name, t.relErr])));
});
