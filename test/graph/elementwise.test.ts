// Elementwise VJPs against float64 central finite differences run in ORT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { gradCheckOp, type OpCheckOptions } from '../../src/graph/gradcheck.js';

const TOL = 1e-6;
type F = (g: Graph, x: Tensor[]) => Tensor;
const cases: [string, F, number[][], OpCheckOptions?][] = [
  ['add (broadcast)', (g, [a, b]) => g.add(a, b), [[3, 1, 4], [5, 1]]],
  ['sub (broadcast)', (g, [a, b]) => g.sub(a, b), [[4], [2, 3, 4]]],
  ['mul (broadcast)', (g, [a, b]) => g.mul(a, b), [[2, 3, 4], [3, 1]]],
  ['div (broadcast)', (g, [a, b]) => g.div(a, b), [[2, 3, 4], [1, 4]], { positive: [1] }],
  ['number operands', (g, [a]) => g.div(g.sub(2, g.mul(a, 3)), 4), [[3, 2]]],
  ['pow (tensor exponent)', (g, [a, b]) => g.pow(a, b), [[2, 3], [3]], { positive: [0] }],
  ['pow (constant exponent)', (g, [a]) => g.pow(a, 3), [[2, 3]]],
  ['max (broadcast)', (g, [a, b]) => g.max(a, b), [[3, 4], [4]]],
  ['min (broadcast)', (g, [a, b]) => g.min(a, b), [[3, 4], [3, 1]]],
  ['where (broadcast)', (g, [a, b]) => g.where(g.greater(a, 0), a, b), [[3, 4], [4]]],
  ['neg', (g, [x]) => g.neg(x), [[2, 5]]],
  ['exp', (g, [x]) => g.exp(x), [[2, 5]]],
  ['log', (g, [x]) => g.log(x), [[2, 5]], { positive: [0] }],
  ['sqrt', (g, [x]) => g.sqrt(x), [[2, 5]], { positive: [0] }],
  ['reciprocal', (g, [x]) => g.reciprocal(x), [[2, 5]], { positive: [0] }],
  ['abs', (g, [x]) => g.abs(x), [[2, 5]]],
  ['erf (float64: decomposed)', (g, [x]) => g.erf(x), [[2, 5]]],
  ['tanh', (g, [x]) => g.tanh(x), [[2, 5]]],
  ['sigmoid', (g, [x]) => g.sigmoid(x), [[2, 5]]],
  ['relu', (g, [x]) => g.relu(x), [[4, 5]]],
  ['gelu', (g, [x]) => g.gelu(x), [[4, 5]]],
  ['clip [min, max]', (g, [x]) => g.clip(x, -0.5, 0.7), [[4, 5]]],
  ['clip min only', (g, [x]) => g.clip(x, 0.1), [[4, 5]]],
  ['clip max only', (g, [x]) => g.clip(x, null, 0.2), [[4, 5]]],
  ['identity', (g, [x]) => g.identity(x), [[3]]],
  ['composite: a·b/(1+exp(-a))', (g, [a, b]) => g.div(g.mul(a, b), g.add(g.exp(g.neg(a)), 1)), [[3, 3], [3, 3]]],
];

for (const [name, f, shapes, opts] of cases) {
  test(`VJP ${name} matches finite differences`, async () => {
    const r = await gradCheckOp(f, shapes, opts);
    for (const t of r.tensors) assert.ok(t.maxAbsGrad > 0, `${name}: gradient of ${t.name} is all zero`);
    assert.ok(r.worst < TOL, `${name}: ${JSON.stringify(r.tensors.map((t) => [t.name, t.relErr]))}`);
  });
}

test('a tensor used twice gets both gradient contributions', async () => {
  const r = await gradCheckOp((g, [x]) => g.mul(g.exp(x), g.tanh(x)), [[6]]);
  assert.ok(r.worst < TOL);
});

test('stopGradient blocks the gradient of its path only', async () => {
  const g = new Graph({ dtype: 'double' });
  const x = g.input('x', [4]);
  const loss = g.reduceSum(g.mul(g.mul(x, g.stopGradient(x)), 0.5), undefined, false); // d/dx = x/2, not x
  const [gx] = g.grad(loss, [x]);
  const s = await Session.create(g.toBytes({ gx }));
  const xs = Float64Array.from([1, -2, 3, 0.5]);
  const out = (await s.run({ x: { data: xs, dims: [4] } })).gx.data as Float64Array;
  assert.deepEqual(Array.from(out), Array.from(xs, (v) => v / 2));
});

test('comparisons and casts are not differentiated; unrelated tensors get zero gradients', async () => {
  const g = new Graph({ dtype: 'double' });
  const x = g.input('x', [3]), y = g.input('y', [3]);
  const mask = g.cast(g.greater(x, 0), 'double');
  const loss = g.reduceSum(g.mul(mask, y), undefined, false);
  const [gx, gy] = g.grad(loss, [x, y]);
  const s = await Session.create(g.toBytes({ gx, gy }));
  const out = await s.run({ x: { data: Float64Array.from([1, -1, 2]), dims: [3] }, y: { data: Float64Array.from([5, 6, 7]), dims: [3] } });
  assert.deepEqual(Array.from(out.gx.data as Float64Array), [0, 0, 0]);
  assert.deepEqual(Array.from(out.gy.data as Float64Array), [1, 0, 1]);
});
