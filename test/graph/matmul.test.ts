// MatMul / Gemm / linear VJPs against float64 central finite differences run in ORT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, type Tensor } from '../../src/graph/index.js';
import { gradCheckOp } from '../../src/graph/gradcheck.js';

const TOL = 1e-6;
type F = (g: Graph, x: Tensor[]) => Tensor;
const cases: [string, F, number[][]][] = [
  ['matmul 2-D', (g, [a, b]) => g.matmul(a, b), [[3, 4], [4, 5]]],
  ['matmul tokens @ weight (one GEMM for the weight gradient)', (g, [a, b]) => g.matmul(a, b), [[2, 3, 4], [4, 5]]],
  ['matmul batched (attention)', (g, [a, b]) => g.matmul(a, b), [[2, 2, 3, 4], [2, 2, 4, 3]]],
  ['matmul broadcast batch', (g, [a, b]) => g.matmul(a, b), [[2, 1, 3, 4], [3, 4, 2]]],
  ['gemm', (g, [a, b, c]) => g.gemm(a, b, c), [[3, 4], [4, 5], [5]]],
  ['gemm transA, alpha, beta', (g, [a, b, c]) => g.gemm(a, b, c, { transA: true, alpha: 0.5, beta: 2 }), [[4, 3], [4, 5], [3, 5]]],
  ['gemm transB', (g, [a, b, c]) => g.gemm(a, b, c, { transB: true }), [[3, 4], [5, 4], [1, 5]]],
  ['gemm transA transB, no c', (g, [a, b]) => g.gemm(a, b, null, { transA: true, transB: true, alpha: 1.5 }), [[4, 3], [5, 4]]],
  ['linear 2-D (Gemm)', (g, [x, w, b]) => g.linear(x, w, b), [[3, 4], [5, 4], [5]]],
  ['linear 3-D (flattened Gemm)', (g, [x, w, b]) => g.linear(x, w, b), [[2, 3, 4], [5, 4], [5]]],
];

for (const [name, f, shapes] of cases) {
  test(`VJP ${name} matches finite differences`, async () => {
    const r = await gradCheckOp(f, shapes);
    for (const t of r.tensors) assert.ok(t.maxAbsGrad > 0, `${name}: gradient of ${t.name} is all zero`);
    assert.ok(r.worst < TOL, `${name}: ${JSON.stringify(r.tensors.map((t) => [t.name, t.relErr]))}`);
  });
}

test('matmul shape errors are caught at build time', () => {
  const g = new Graph();
  assert.throws(() => g.matmul(g.input('a', [2, 3]), g.input('b', [4, 5])), /matmul/);
  assert.throws(() => g.gemm(g.input('c', [2, 3]), g.input('d', [2, 3])), /gemm/);
});
