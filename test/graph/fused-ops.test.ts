// Speed changes to the graphs and sessions must not change the numbers: each fast path against the plain one.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { sessionOptions, SPIN_US } from '../../src/engine/session.js';
import { Graph, Session } from '../../src/graph/index.js';
import { Rng } from '../../src/util/rng.js';
import { maxRelDiff } from '../helpers/compare.js';

const { onnx } = onnxProto;

/** A two-layer GELU MLP with a weighted-sum loss: y, loss and the gradients of x and both weights. */
function mlp(opts: { contribOps?: boolean; dtype?: 'float' | 'double' }) {
  const g = new Graph(opts);
  const x = g.input('x', ['N', 12]);
  const r = g.input('r', ['N', 5]);
  const w1 = g.param('w1', [24, 12]), b1 = g.param('b1', [24]), w2 = g.param('w2', [5, 24]);
  const y = g.linear(g.gelu(g.linear(x, w1, b1)), w2);
  const loss = g.reduceSum(g.mul(y, r), undefined, false);
  const [gx, gw1, gb1, gw2] = g.grad(loss, [x, w1, b1, w2]);
  return g.toModel({ y, loss, gx, gw1, gb1, gw2 });
}

function mlpFeeds(dtype: 'float' | 'double') {
  const rng = new Rng(7);
  const arr = (n: number, s: number) =>
    dtype === 'float' ? Float32Array.from({ length: n }, () => rng.normal() * s) : Float64Array.from({ length: n }, () => rng.normal() * s);
  return {
    x: { data: arr(6 * 12, 2), dims: [6, 12] },
    r: { data: arr(6 * 5, 1), dims: [6, 5] },
    w1: { data: arr(24 * 12, 0.5), dims: [24, 12] },
    b1: { data: arr(24, 0.5), dims: [24] },
    w2: { data: arr(5 * 24, 0.5), dims: [5, 24] },
  };
}

test('fused GELU (ORT Gelu kernel + its own gradient rule) gives the plain graph\'s values and gradients', async () => {
  const fused = mlp({});
  const plain = mlp({ contribOps: false });
  const exact = mlp({ dtype: 'double' }); // decomposed ops in float64: the reference both are checked against
  assert.equal(fused.ops.Gelu, 1, 'training graphs use the fused kernel by default');
  assert.equal(plain.ops.Gelu, undefined);
  assert.ok(fused.nodeCount < plain.nodeCount, `${fused.nodeCount} nodes vs ${plain.nodeCount}`);
  const f32 = mlpFeeds('float');
  const [a, b] = await Promise.all([fused, plain].map(async (m) => (await Session.create(m.bytes, { intraOpNumThreads: 1 })).run(f32)));
  const c = await (await Session.create(exact.bytes, { intraOpNumThreads: 1 })).run(mlpFeeds('double'));
  for (const k of ['y', 'loss', 'gx', 'gw1', 'gb1', 'gw2']) {
    const ab = maxRelDiff(a[k].data as Float32Array, b[k].data as Float32Array);
    assert.ok(ab < 2e-6, `${k}: fused vs plain ${ab}`);
    const ac = maxRelDiff(a[k].data as Float32Array, c[k].data as Float64Array);
    assert.ok(ac < 2e-6, `${k}: fused vs float64 ${ac}`);
  }
});

test('exports keep plain ONNX ops, in the form ORT fuses into its Gelu kernel when it loads them', async () => {
  const g = new Graph({ paramValues: new Map([['w', Float32Array.from({ length: 12 }, (_, i) => i / 10 - 0.5)]]) });
  const x = g.input('x', ['N', 3]);
  const y = g.gelu(g.linear(x, g.param('w', [4, 3])));
  const built = g.toModel({ y });
  assert.equal(built.ops.Gelu, undefined);
  assert.equal(built.ops.Erf, 1);
  const dir = mkdtempSync(join(tmpdir(), 'dt-speed-'));
  try {
    const path = join(dir, 'opt.onnx');
    await ort.InferenceSession.create(built.bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath: path, logSeverityLevel: 3 });
    const ops = onnx.ModelProto.decode(readFileSync(path)).graph!.node!.map((n) => n.opType);
    assert.ok(ops.includes('Gelu'), `ORT's optimised graph: ${ops.join(' ')}`);
    assert.ok(!ops.includes('Erf'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sessions spin-wait at most SPIN_US by default (DINOTRAIN_ORT_SPIN=0 turns it off); the outputs are the same', async () => {
  type IntraOp = { allow_spinning: string; spin_duration_us?: string };
  const spinOf = (o: ort.InferenceSession.SessionOptions) => (o.extra as { session: { intra_op: IntraOp } }).session.intra_op;
  const saved = process.env.DINOTRAIN_ORT_SPIN;
  try {
    delete process.env.DINOTRAIN_ORT_SPIN;
    assert.deepEqual(spinOf(sessionOptions({ providers: ['cpu'], threads: 2 })), { allow_spinning: '1', spin_duration_us: String(SPIN_US) });
    assert.deepEqual(spinOf(sessionOptions({ providers: ['cpu'], threads: 2, spinning: false })), { allow_spinning: '0' });
    process.env.DINOTRAIN_ORT_SPIN = '0';
    assert.deepEqual(spinOf(sessionOptions({ providers: ['cpu'], threads: 2 })), { allow_spinning: '0' });
  } finally {
    if (saved === undefined) delete process.env.DINOTRAIN_ORT_SPIN;
    else process.env.DINOTRAIN_ORT_SPIN = saved;
  }
  const m = mlp({});
  const feeds = Object.fromEntries(Object.entries(mlpFeeds('float')).map(([k, v]) => [k, new ort.Tensor('float32', v.data as Float32Array, v.dims)]));
  const outs = await Promise.all(
    [false, true].map(async (spinning) => (await ort.InferenceSession.create(m.bytes, sessionOptions({ providers: ['cpu'], threads: 2, spinning }))).run(feeds)),
  );
  for (const k of ['y', 'gx', 'gw1']) assert.deepEqual(outs[0][k].data, outs[1][k].data, k);
});


test('bias-style gradients (leading axes summed away) as ones @ g equal the ReduceSum of the plain graph', async () => {
  const build = (decompose: boolean) => {
    const g = new Graph({ decompose });
    const x = g.input('x', ['N', 7, 6]);
    const r = g.input('r', ['N', 7, 6]);
    const b = g.param('b', [6]), pos = g.param('pos', [1, 7, 6]), row = g.param('row', [1, 1, 6]);
    const y = g.add(g.add(g.add(x, b), pos), row);
    const [gb, gpos, grow, gx] = g.grad(g.reduceSum(g.mul(g.mul(y, y), r), undefined, false), [b, pos, row, x]);
    return g.toModel({ gb, gpos, grow, gx });
  };
  const fast = build(false), plain = build(true);
  assert.ok((fast.ops.MatMul ?? 0) >= 2 && (plain.ops.MatMul ?? 0) === 0, `${JSON.stringify(fast.ops)} / ${JSON.stringify(plain.ops)}`);
  const rng = new Rng(9);
  const arr = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const feeds = {
    x: { data: arr(3 * 42), dims: [3, 7, 6] },
    r: { data: arr(3 * 42), dims: [3, 7, 6] },
    b: { data: arr(6), dims: [6] },
    pos: { data: arr(42), dims: [1, 7, 6] },
    row: { data: arr(6), dims: [1, 1, 6] },
  };
  const [a, b] = await Promise.all([fast, plain].map(async (m) => (await Session.create(m.bytes, { intraOpNumThreads: 1 })).run(feeds)));
  for (const k of ['gb', 'gpos', 'grow', 'gx']) {
    assert.deepEqual(a[k].dims, b[k].dims, k);
    const e = maxRelDiff(a[k].data as Float32Array, b[k].data as Float32Array);
    assert.ok(e < 1e-6, `${k}: ${e}`);
  }
});

test('stride-1 Conv input gradient as a Conv with the flipped kernel = the float64 reference (3x3, dilated, 1x1)', async () => {
  for (const opts of [{ pads: [1, 1, 1, 1] }, { pads: [2, 1, 2, 1], dilations: [2, 1] }, { pads: [0, 0, 0, 0] }]) {
    const k = opts.pads[0] === 0 ? 1 : 3;
    const build = (dtype: 'float' | 'double') => {
      const g = new Graph({ dtype });
      const x = g.input('x', [2, 4, 6, 5]);
      const w = g.param('w', [3, 4, k, k]);
      const y = g.conv(x, w, null, opts);
      const r = g.input('r', y.shape);
      const [gx, gw] = g.grad(g.reduceSum(g.mul(y, r), undefined, false), [x, w]);
      return { model: g.toModel({ y, gx, gw }), yShape: y.shape as number[] };
    };
    const f = build('float'), d = build('double');
    assert.equal(f.model.ops.ConvTranspose, undefined, 'no ConvTranspose in the float32 graph');
    const rng = new Rng(4);
    const vals = (n: number) => Array.from({ length: n }, () => rng.normal());
    const raw = { x: vals(2 * 4 * 30), w: vals(3 * 4 * k * k), r: vals(f.yShape.reduce((a, b) => a * b, 1)) };
    const dims = { x: [2, 4, 6, 5], w: [3, 4, k, k], r: f.yShape };
    const feeds = (T: Float32ArrayConstructor | Float64ArrayConstructor) =>
      Object.fromEntries(Object.entries(raw).map(([n, v]) => [n, { data: T.from(v), dims: dims[n as keyof typeof dims] }]));
    const a = await (await Session.create(f.model.bytes, { intraOpNumThreads: 1 })).run(feeds(Float32Array));
    const b = await (await Session.create(d.model.bytes, { intraOpNumThreads: 1 })).run(feeds(Float64Array));
    for (const key of ['y', 'gx', 'gw']) {
      const e = maxRelDiff(a[key].data as Float32Array, b[key].data as Float64Array);
      assert.ok(e < 2e-6, `${JSON.stringify(opts)} ${key}: ${e}`);
    }
  }
});

test('FusedMatMul (q·kᵀ with the scale folded in) and its gradients = the float64 MatMul form, every transpose combination', async () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const aShape = transA ? [2, 3, 5, 4] : [2, 3, 4, 5], bShape = transB ? [2, 3, 6, 5] : [2, 3, 5, 6];
      const build = (dtype: 'float' | 'double') => {
        const g = new Graph({ dtype });
        const a = g.input('a', aShape), b = g.input('b', bShape), r = g.input('r', [2, 3, 4, 6]);
        const y = g.matmulT(a, b, { transA, transB, alpha: 0.37 });
        const [ga, gb] = g.grad(g.reduceSum(g.mul(y, r), undefined, false), [a, b]);
        return g.toModel({ y, ga, gb });
      };
      const f = build('float'), d = build('double');
      assert.equal(f.ops.FusedMatMul, 3, 'forward and both gradients fused');
      assert.equal(f.ops.Transpose, undefined);
      assert.equal(d.ops.FusedMatMul, undefined);
      const rng = new Rng(transA ? 1 : 2);
      const raw = { a: aShape, b: bShape, r: [2, 3, 4, 6] };
      const vals = Object.fromEntries(Object.entries(raw).map(([k, s]) => [k, Array.from({ length: s.reduce((p, q) => p * q, 1) }, () => rng.normal())]));
      const feeds = (T: Float32ArrayConstructor | Float64ArrayConstructor) => Object.fromEntries(Object.entries(raw).map(([k, s]) => [k, { data: T.from(vals[k]), dims: s }]));
      const a = await (await Session.create(f.bytes, { intraOpNumThreads: 1 })).run(feeds(Float32Array));
      const b = await (await Session.create(d.bytes, { intraOpNumThreads: 1 })).run(feeds(Float64Array));
      for (const k of ['y', 'ga', 'gb']) {
        assert.deepEqual(a[k].dims, b[k].dims, k);
        const e = maxRelDiff(a[k].data as Float32Array, b[k].data as Float64Array);
        assert.ok(e < 1e-6, `transA ${transA} transB ${transB} ${k}: ${e}`);
      }
    }
  }
});

test('batched MatMul gradients as FusedMatMul with transpose flags = the float64 plain rule', async () => {
  const build = (dtype: 'float' | 'double') => {
    const g = new Graph({ dtype });
    const a = g.input('a', [2, 3, 4, 5]), b = g.input('b', [2, 3, 5, 6]), r = g.input('r', [2, 3, 4, 6]);
    const y = g.matmul(a, b);
    const [ga, gb] = g.grad(g.reduceSum(g.mul(y, r), undefined, false), [a, b]);
    return g.toModel({ y, ga, gb });
  };
  const f = build('float'), d = build('double');
  assert.equal(f.ops.FusedMatMul, 2);
  assert.equal(f.ops.Transpose, undefined);
  const rng = new Rng(5);
  const dims = { a: [2, 3, 4, 5], b: [2, 3, 5, 6], r: [2, 3, 4, 6] };
  const vals = Object.fromEntries(Object.entries(dims).map(([k, s]) => [k, Array.from({ length: s.reduce((p, q) => p * q, 1) }, () => rng.normal())]));
  const feeds = (T: Float32ArrayConstructor | Float64ArrayConstructor) => Object.fromEntries(Object.entries(dims).map(([k, s]) => [k, { data: T.from(vals[k]), dims: s }]));
  const a = await (await Session.create(f.bytes, { intraOpNumThreads: 1 })).run(feeds(Float32Array));
  const b = await (await Session.create(d.bytes, { intraOpNumThreads: 1 })).run(feeds(Float64Array));
  for (const k of ['y', 'ga', 'gb']) assert.ok(maxRelDiff(a[k].data as Float32Array, b[k].data as Float64Array) < 1e-6, k);
});
