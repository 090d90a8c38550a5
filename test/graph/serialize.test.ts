// Serialisation: ORT accepts the models, metadata reads back, dead nodes are dropped, output naming, and the same
// model function built with parameters as inputs (training) or as initializers (export).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, readModelInfo, Session, type Tensor } from '../../src/graph/index.js';

function mlp(g: Graph): { x: Tensor; y: Tensor; params: Tensor[] } {
  const x = g.input('x', ['N', 4]);
  const w1 = g.param('fc1.weight', [8, 4]), b1 = g.param('fc1.bias', [8]);
  const w2 = g.param('fc2.weight', [3, 8]);
  const y = g.linear(g.gelu(g.linear(x, w1, b1)), w2);
  return { x, y, params: [w1, b1, w2] };
}

const weights = new Map<string, Float32Array>([
  ['fc1.weight', Float32Array.from({ length: 32 }, (_, i) => Math.sin(i) * 0.5)],
  ['fc1.bias', Float32Array.from({ length: 8 }, (_, i) => i / 10 - 0.4)],
  ['fc2.weight', Float32Array.from({ length: 24 }, (_, i) => Math.cos(i) * 0.3)],
]);
const xData = Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2);

test('metadata, doc string and names read back from the bytes', () => {
  const g = new Graph({ name: 'tiny' });
  const { y } = mlp(g);
  const bytes = g.toBytes({ embedding: y }, { metadata: { arch: 'mlp', 'dinotrain.version': '0.1.0' }, docString: 'a test model' });
  const info = readModelInfo(bytes);
  assert.deepEqual(info.metadata, { arch: 'mlp', 'dinotrain.version': '0.1.0' });
  assert.equal(info.docString, 'a test model');
  assert.equal(info.opset, 18);
  assert.deepEqual(info.inputs, ['x', 'fc1.weight', 'fc1.bias', 'fc2.weight']);
  assert.deepEqual(info.outputs, ['embedding']);
});

test('export mode: parameters become initializers and the forward pass is unchanged', async () => {
  const gt = new Graph();
  const t = mlp(gt);
  const train = await Session.create(gt.toBytes({ y: t.y }));
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: xData, dims: [3, 4] } };
  for (const p of gt.params) feeds[p.name] = { data: weights.get(p.name)!, dims: [...p.shape] };
  const a = (await train.run(feeds)).y.data as Float32Array;

  const ge = new Graph({ paramValues: weights });
  const e = mlp(ge);
  const bytes = ge.toBytes({ y: e.y });
  const info = readModelInfo(bytes);
  assert.deepEqual(info.inputs, ['x']);
  assert.deepEqual(info.initializers.sort(), ['fc1.bias', 'fc1.weight', 'fc2.weight']);
  const exp = await Session.create(bytes);
  assert.deepEqual(exp.inputNames, ['x']);
  const b = (await exp.run({ x: { data: xData, dims: [3, 4] } })).y.data as Float32Array;
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.throws(() => new Graph({ paramValues: new Map() }).param('missing', [2]), /no value for parameter missing/);
});

test('dead nodes are dropped; inputs stay unless pruned', () => {
  const g = new Graph();
  const { x, y } = mlp(g);
  const unused = g.input('unused', [2]);
  g.exp(g.mul(x, 3)); // dead branch
  g.reduceSum(unused);
  const m = g.toModel({ y });
  assert.equal(m.ops.Exp, undefined);
  assert.equal(m.ops.ReduceSum, undefined);
  assert.ok(m.nodeCount < g.nodes.length);
  assert.ok(readModelInfo(m.bytes).inputs.includes('unused'));
  assert.ok(!readModelInfo(g.toBytes({ y }, { pruneInputs: true })).inputs.includes('unused'));
});

test('outputs: one tensor under two names, inputs and parameters as outputs, gradients', async () => {
  const g = new Graph();
  const { x, y, params } = mlp(g);
  const loss = g.reduceMean(g.mul(y, y), undefined, false);
  const grads = g.grad(loss, params);
  const s = await Session.create(g.toBytes({ loss, loss_again: loss, x_out: x, w_out: params[2], 'grad:fc2.weight': grads[2], 'grad:fc1.bias': grads[1] }));
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: xData, dims: [3, 4] } };
  for (const p of g.params) feeds[p.name] = { data: weights.get(p.name)!, dims: [...p.shape] };
  const r = await s.run(feeds);
  assert.equal(r.loss.data[0], r.loss_again.data[0]);
  assert.deepEqual(Array.from(r.x_out.data as Float32Array), Array.from(xData));
  assert.deepEqual(r['grad:fc2.weight'].dims, [3, 8]);
  assert.deepEqual(r['grad:fc1.bias'].dims, [8]);
  assert.throws(() => g.toBytes({ x: y }), /also an input/);
});

test('big constants are initializers, small ones Constant nodes; bool and int64 feeds', async () => {
  const g = new Graph();
  const x = g.input('x', [2, 100]);
  const big = g.const(Float32Array.from({ length: 200 }, (_, i) => i), [2, 100]);
  const small = g.const([1, 2], [2, 1]);
  const m = g.input('mask', [2, 100], 'bool');
  const idx = g.input('idx', [3], 'int64');
  const y = g.gather(g.where(m, g.add(x, big), small), idx, 1);
  const bytes = g.toBytes({ y });
  const info = readModelInfo(bytes);
  assert.equal(info.initializers.length, 1);
  const s = await Session.create(bytes);
  const mask = new Uint8Array(200).map((_, i) => i % 2);
  const r = await s.run({
    x: { data: new Float32Array(200).fill(0.5), dims: [2, 100] },
    mask: { data: mask, dims: [2, 100] },
    idx: { data: BigInt64Array.from([0n, 1n, 99n]), dims: [3] },
  });
  assert.deepEqual(Array.from(r.y.data as Float32Array), [1, 1.5, 99.5, 2, 101.5, 199.5]);
});

test('user mistakes are reported at build time', () => {
  const g = new Graph();
  g.input('x', [2]);
  assert.throws(() => g.input('x', [3]), /used twice/);
  assert.throws(() => g.param('p', ['N', 2] as unknown as number[]), /static shape/);
  assert.throws(() => g.toBytes({}), /at least one output/);
  const other = new Graph();
  assert.throws(() => g.add(g.inputs[0], other.input('y', [2])), /another graph/);
});
