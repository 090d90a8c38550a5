// Normalisation, pooling and (decomposed) conv VJPs against float64 central finite differences run in ORT. Fused
// LayerNormalization, Conv, ConvTranspose, AveragePool and GlobalAveragePool have no float64 kernels in ORT's CPU
// build: float64 graphs decompose them, and the fused ops' own VJPs are checked in graph-torch-fixtures.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { gradCheckOp, type OpCheckOptions } from '../../src/graph/gradcheck.js';

const TOL = 1e-6;
type F = (g: Graph, x: Tensor[]) => Tensor;
const cases: [string, F, number[][], OpCheckOptions?][] = [
  ['layerNorm (float64: decomposed)', (g, [x, w, b]) => g.layerNorm(x, w, b, 1e-6), [[2, 3, 5], [5], [5]]],
  ['layerNorm without beta over 2 axes', (g, [x, w]) => g.layerNorm(x, w, null, 1e-5, 1), [[2, 3, 4], [3, 4]]],
  ['batchNorm (batch statistics) output', (g, [x, w, b]) => g.batchNorm(x, w, b).y, [[4, 3, 2, 2], [3], [3]]],
  ['batchNorm on [N, C] features', (g, [x, w, b]) => g.batchNorm(x, w, b).y, [[5, 3], [3], [3]]],
  ['batchNormInference', (g, [x, w, b, m, v]) => g.batchNormInference(x, w, b, m, v, 1e-5), [[2, 3, 2, 2], [3], [3], [3], [3]], { positive: [4] }],
  ['l2Normalize', (g, [x]) => g.l2Normalize(x, -1), [[3, 5]]],
  ['maxPool 3x3 s2 p1 (overlapping windows)', (g, [x]) => g.maxPool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), [[2, 2, 7, 7]]],
  ['maxPool 2x2', (g, [x]) => g.maxPool(x, { kernel: [2, 2] }), [[1, 3, 4, 6]]],
  ['globalAveragePool (float64: ReduceMean)', (g, [x]) => g.globalAveragePool(x), [[2, 3, 4, 4]]],
  // float64 Conv/AveragePool are decomposed (im2col from strided Slices + MatMul): differentiated by the generic rules
  ['conv decomposed, stride 2, pad 1, bias', (g, [x, w, b]) => g.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] }), [[2, 3, 5, 5], [4, 3, 3, 3], [4]]],
  ['conv decomposed, dilation 2, asymmetric pads, groups 2', (g, [x, w]) => g.conv(x, w, null, { pads: [2, 1, 0, 2], dilations: [2, 2], group: 2 }), [[1, 4, 6, 5], [6, 2, 3, 2]]],
  ['averagePool decomposed 3x3 s2 p1', (g, [x]) => g.averagePool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), [[2, 2, 5, 5]]],
];

for (const [name, f, shapes, opts] of cases) {
  test(`VJP ${name} matches finite differences`, async () => {
    const r = await gradCheckOp(f, shapes, { samples: 4, ...opts });
    assert.ok(r.worst < TOL, `${name}: ${JSON.stringify(r.tensors.map((t) => [t.name, t.relErr]))}`);
  });
}

test('batchNorm returns the biased batch statistics per channel', async () => {
  const g = new Graph({ dtype: 'double' });
  const x = g.input('x', [2, 2, 1, 2]);
  const { mean, var: v } = g.batchNorm(x, g.const([1, 1], [2]), g.const([0, 0], [2]));
  const s = await Session.create(g.toBytes({ mean, v }));
  // channel 0: 1, 2, 5, 6 ; channel 1: 3, 4, 7, 8
  const out = await s.run({ x: { data: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]), dims: [2, 2, 1, 2] } });
  assert.deepEqual(Array.from(out.mean.data as Float64Array), [3.5, 5.5]);
  assert.deepEqual(Array.from(out.v.data as Float64Array), [4.25, 4.25]);
});
