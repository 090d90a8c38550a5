// Float32 forward + gradients of ops without float64 kernels in ORT's CPU build (Conv, ConvTranspose, pools,
// fused LayerNormalization, Erf), plus MaxPool and training BatchNorm, against PyTorch autograd
// (fixtures/graph/make_torch_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { maxRelDiff as relErr } from '../helpers/compare.js';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';

interface Arr { shape: number[]; data: number[] }
interface Case { name: string; params: Record<string, any>; inputs: Record<string, Arr>; r: Arr; y: Arr; grads: Record<string, number[]> }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/graph/torch_ops.json', import.meta.url), 'utf8')) as { cases: Case[] };

const build: Record<string, (g: Graph, t: Record<string, Tensor>, p: Record<string, any>) => Tensor> = {
  conv: (g, t, p) => g.conv(t.x, t.w, t.b ?? null, p),
  conv_transpose: (g, t, p) => g.convTranspose(t.x, t.w, t.b ?? null, p),
  maxpool: (g, t, p) => g.maxPool(t.x, p as any),
  avgpool: (g, t, p) => g.averagePool(t.x, p as any),
  global_avgpool: (g, t) => g.globalAveragePool(t.x),
  layernorm_fused: (g, t, p) => g.layerNorm(t.x, t.g, t.b, p.epsilon),
  batchnorm_train: (g, t, p) => g.batchNorm(t.x, t.g, t.b, p.epsilon).y,
  gelu_erf: (g, t) => g.gelu(t.x),
};
const builderFor = (name: string) => build[Object.keys(build).sort((a, b) => b.length - a.length).find((k) => name.startsWith(k))!];


// decompose: the float64-style forms (im2col conv, decomposed LayerNorm/Erf/pools) must compute the same function
const runs = fixture.cases.flatMap((c) => [{ c, decompose: false }, ...(c.name.startsWith('conv_transpose') ? [] : [{ c, decompose: true }])]);
for (const { c, decompose } of runs) {
  test(`${c.name}${decompose ? ' (decomposed)' : ''}: forward and gradients match torch`, async () => {
    const g = new Graph({ decompose });
    const t: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(c.inputs)) t[k] = k === 'x' ? g.input(k, v.shape) : g.param(k, v.shape);
    const y = builderFor(c.name)(g, t, c.params);
    assert.deepEqual(y.shape, c.y.shape);
    const r = g.input('r', c.r.shape);
    const loss = g.reduceSum(g.mul(y, r), undefined, false);
    const names = Object.keys(c.inputs);
    const grads = g.grad(loss, names.map((k) => t[k]));
    const outs: Record<string, Tensor> = { y };
    names.forEach((k, i) => (outs[`grad_${k}`] = grads[i]));
    const model = g.toModel(outs);
    if (decompose) for (const op of ['Conv', 'ConvTranspose', 'AveragePool', 'GlobalAveragePool', 'LayerNormalization', 'Erf']) assert.equal(model.ops[op], undefined, op);
    const s = await Session.create(model.bytes, { intraOpNumThreads: 1 });
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { r: { data: Float32Array.from(c.r.data), dims: c.r.shape } };
    for (const [k, v] of Object.entries(c.inputs)) feeds[k] = { data: Float32Array.from(v.data), dims: v.shape };
    const out = await s.run(feeds);
    assert.ok(relErr(out.y.data as Float32Array, c.y.data) < 2e-5, `${c.name} forward ${relErr(out.y.data as Float32Array, c.y.data)}`);
    for (const k of names) {
      const e = relErr(out[`grad_${k}`].data as Float32Array, c.grads[k]);
      assert.ok(e < 2e-5, `${c.name} d/d${k}: max|diff|/max|g| = ${e}`);
    }
  });
}
