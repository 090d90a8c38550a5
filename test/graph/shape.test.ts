// Shape and indexing VJPs against float64 central finite differences run in ORT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { END, Graph, Session, type Tensor } from '../../src/graph/index.js';
import { gradCheckOp, type OpCheckOptions } from '../../src/graph/gradcheck.js';

const TOL = 1e-6;
type F = (g: Graph, x: Tensor[]) => Tensor;
// Most shape ops are linear: a weighting with exp() makes every coordinate's gradient distinct.
const cases: [string, F, number[][], OpCheckOptions?][] = [
  ['reshape with -1', (g, [x]) => g.exp(g.reshape(x, [3, -1, 2])), [[2, 3, 4]]],
  ['flatten', (g, [x]) => g.exp(g.flatten(x, 2)), [[2, 3, 4]]],
  ['transpose', (g, [x]) => g.exp(g.transpose(x, [2, 0, 1])), [[2, 3, 4]]],
  ['concat axis 1 of three', (g, [a, b, c]) => g.exp(g.concat([a, b, c], 1)), [[2, 1, 3], [2, 4, 3], [2, 2, 3]]],
  ['slice with negative start and END', (g, [x]) => g.exp(g.slice(x, [1, -3], [END, END], [0, 2])), [[3, 2, 5]]],
  ['slice inner range', (g, [x]) => g.exp(g.slice(x, [1], [3], [1])), [[2, 5]]],
  ['slice with steps', (g, [x]) => g.exp(g.slice(x, [1, 0], [END, 6], [1, 2], [2, 3])), [[2, 6, 7]]],
  ['slice with step reaching the end', (g, [x]) => g.exp(g.slice(x, [2], [END], [0], [3])), [[8, 2]]],
  ['split by sizes (one part unused)', (g, [x]) => { const [a, , c] = g.split(x, 1, [1, 2, 3]); return g.mul(g.exp(a), g.reduceSum(c, [1])); }, [[2, 6]]],
  ['split into equal parts', (g, [x]) => { const [a, b] = g.split(x, 0, 2); return g.mul(a, g.exp(b)); }, [[4, 3]]],
  ['gather scalar index', (g, [x]) => g.exp(g.gather(x, 1, 1)), [[2, 3, 4]]],
  ['gather negative scalar index', (g, [x]) => g.exp(g.gather(x, -1, 0)), [[3, 4]]],
  ['gather index list with repeats', (g, [x]) => g.exp(g.gather(x, [2, 0, 2, 1], 1)), [[2, 3, 4]]],
  ['gather 2-D index tensor, axis 0', (g, [x]) => g.exp(g.gather(x, g.const([0, 2, 2, 1, 0, 0], [2, 3], 'int64'), 0)), [[3, 4]]],
  ['gatherElements', (g, [x]) => g.exp(g.gatherElements(x, g.const([0, 2, 2, 1, 1, 1], [2, 3], 'int64'), 1)), [[2, 4]]],
  ['scatterElements (overwrite)', (g, [x, u]) => g.exp(g.scatterElements(x, g.const([1, 0, 3, 2], [2, 2], 'int64'), u, 1)), [[2, 4], [2, 2]]],
  ['scatterElements (add, repeated index)', (g, [x, u]) => g.exp(g.scatterElements(x, g.const([1, 1, 0, 2], [2, 2], 'int64'), u, 1, 'add')), [[2, 4], [2, 2]]],
  ['expand', (g, [x]) => g.exp(g.expand(x, [2, 3, 4])), [[3, 1]]],
  ['unsqueeze', (g, [x]) => g.exp(g.unsqueeze(x, [0, -1])), [[3, 4]]],
  ['squeeze', (g, [x]) => g.exp(g.squeeze(x, [1])), [[3, 1, 4]]],
  ['pad', (g, [x]) => g.exp(g.pad(x, [1, 0, 2, 3], 0.5)), [[3, 4]]],
  ['swapLast', (g, [x]) => g.exp(g.swapLast(x)), [[2, 3, 4]]],
];

for (const [name, f, shapes, opts] of cases) {
  test(`VJP ${name} matches finite differences`, async () => {
    const r = await gradCheckOp(f, shapes, opts);
    for (const t of r.tensors) assert.ok(t.maxAbsGrad > 0, `${name}: gradient of ${t.name} is all zero`);
    assert.ok(r.worst < TOL, `${name}: ${JSON.stringify(r.tensors.map((t) => [t.name, t.relErr]))}`);
  });
}

test('gather with repeated indices sums the gradient', async () => {
  const g = new Graph({ dtype: 'double' });
  const x = g.input('x', [3, 2]);
  const [gx] = g.grad(g.reduceSum(g.gather(x, [2, 0, 2], 0), undefined, false), [x]);
  const s = await Session.create(g.toBytes({ gx }));
  const out = await s.run({ x: { data: new Float64Array(6), dims: [3, 2] } });
  assert.deepEqual(Array.from(out.gx.data as Float64Array), [1, 1, 0, 0, 2, 2]);
});

test('shape inference: results of the ops', () => {
  const g = new Graph();
  const x = g.input('x', [2, 3, 4]);
  assert.deepEqual(g.reshape(x, [4, -1]).shape, [4, 6]);
  assert.deepEqual(g.transpose(x).shape, [4, 3, 2]);
  assert.deepEqual(g.slice(x, [0, 1], [END, -1], [0, 2]).shape, [2, 3, 2]);
  assert.deepEqual(g.slice(x, [0], [4], [2], [2]).shape, [2, 3, 2]);
  assert.deepEqual(g.gather(x, g.const([0, 1], [1, 2], 'int64'), 1).shape, [2, 1, 2, 4]);
  assert.deepEqual(g.unsqueeze(x, [1, -1]).shape, [2, 1, 3, 4, 1]);
  assert.deepEqual(g.pad(x, [0, 1, 0, 0, 2, 1]).shape, [2, 6, 5]);
  assert.deepEqual(g.split(x, 2, [1, 3]).map((t) => t.shape), [[2, 3, 1], [2, 3, 3]]);
  assert.throws(() => g.reshape(x, [5, -1]), /divide/);
  assert.throws(() => g.concat([x, g.input('y', [2, 4, 4])], 2), /concat/);
  assert.throws(() => g.add(x, g.input('z', [3, 3])), /broadcast/);
});
