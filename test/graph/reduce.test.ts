// Reduction, softmax and TopK VJPs against float64 central finite differences run in ORT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { gradCheckOp, type OpCheckOptions } from '../../src/graph/gradcheck.js';

const TOL = 1e-6;
type F = (g: Graph, x: Tensor[]) => Tensor;
const cases: [string, F, number[][], OpCheckOptions?][] = [
  ['reduceSum axis 1', (g, [x]) => g.reduceSum(x, [1], false), [[2, 3, 4]]],
  ['reduceSum axes [0,2] keepdims', (g, [x]) => g.reduceSum(x, [0, 2]), [[2, 3, 4]]],
  ['reduceSum all', (g, [x]) => g.reduceSum(x, undefined, false), [[2, 3, 4]]],
  ['reduceMean axis -1', (g, [x]) => g.reduceMean(x, [-1], false), [[2, 3, 4]]],
  ['reduceMean axes [0,1] keepdims', (g, [x]) => g.reduceMean(x, [0, 1]), [[2, 3, 4]]],
  ['reduceMax axis 1', (g, [x]) => g.reduceMax(x, [1], false), [[2, 5, 3]]],
  ['reduceMin axes [1,2]', (g, [x]) => g.reduceMin(x, [1, 2]), [[2, 5, 3]]],
  ['reduceL2 axis -1', (g, [x]) => g.reduceL2(x, [-1]), [[3, 4]]],
  ['reduceSumSquare axis 0', (g, [x]) => g.reduceSumSquare(x, [0], false), [[3, 4]]],
  ['reduceLogSumExp axis 1', (g, [x]) => g.reduceLogSumExp(x, [1], false), [[3, 4]]],
  ['softmax axis -1', (g, [x]) => g.softmax(x, -1), [[2, 3, 5]]],
  ['softmax axis 1', (g, [x]) => g.softmax(x, 1), [[2, 3, 5]]],
  ['logSoftmax axis -1', (g, [x]) => g.logSoftmax(x), [[3, 6]]],
  ['logSoftmax axis 0', (g, [x]) => g.logSoftmax(x, 0), [[3, 6]]],
  ['topK values', (g, [x]) => g.topK(x, 2, 1).values, [[3, 6]]],
  ['topK smallest, axis 0', (g, [x]) => g.topK(x, 2, 0, false).values, [[4, 3]]],
  ['cross-entropy with soft targets', (g, [s, t]) => g.neg(g.reduceSum(g.mul(g.softmax(t), g.logSoftmax(g.div(s, 0.1))), [-1], false)), [[4, 7], [4, 7]]],
];

for (const [name, f, shapes, opts] of cases) {
  test(`VJP ${name} matches finite differences`, async () => {
    const r = await gradCheckOp(f, shapes, opts);
    for (const t of r.tensors) assert.ok(t.maxAbsGrad > 0, `${name}: gradient of ${t.name} is all zero`);
    assert.ok(r.worst < TOL, `${name}: ${JSON.stringify(r.tensors.map((t) => [t.name, t.relErr]))}`);
  });
}

test('reduceMax shares the gradient between tied maxima (as torch.amax)', async () => {
  const g = new Graph({ dtype: 'double' });
  const x = g.input('x', [2, 3]);
  const [gx] = g.grad(g.reduceSum(g.reduceMax(x, [1], false), undefined, false), [x]);
  const s = await Session.create(g.toBytes({ gx }));
  const out = await s.run({ x: { data: Float64Array.from([1, 5, 5, 2, 0, 1]), dims: [2, 3] } });
  assert.deepEqual(Array.from(out.gx.data as Float64Array), [0, 0.5, 0.5, 1, 0, 0]);
});

test('argMax gives int64 indices and no gradient path', async () => {
  const g = new Graph();
  const x = g.input('x', [2, 3]);
  const i = g.argMax(x, 1, true);
  assert.equal(i.dtype, 'int64');
  const y = g.reduceSum(g.mul(x, g.cast(i, 'float')), undefined, false);
  const [gx] = g.grad(y, [x]);
  const s = await Session.create(g.toBytes({ i, gx }));
  const out = await s.run({ x: { data: Float32Array.from([1, 5, 2, 9, 0, 1]), dims: [2, 3] } });
  assert.deepEqual(Array.from(out.i.data as BigInt64Array), [1n, 0n]);
  assert.deepEqual(Array.from(out.gx.data as Float32Array), [1, 1, 1, 0, 0, 0]);
});
