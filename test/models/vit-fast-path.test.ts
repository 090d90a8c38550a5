// The ViT graph's speed choices give the plain formulation's numbers: the class token normalised on its own, the
// attention scale on the logits, and the LayerNorm gradient that recomputes x̂ with the LayerNormalization kernel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { attention } from '../../src/models/layers/attention.js';
import { vitConfig } from '../../src/models/vit-config.js';
import { vitSpec } from '../../src/models/vit-spec.js';
import { vitForward } from '../../src/models/vit.js';
import { Rng } from '../../src/util/rng.js';
import { maxRelDiff } from '../helpers/compare.js';

type Feeds = Record<string, { data: Float32Array | Float64Array; dims: number[] }>;

function randomFeeds(shapes: Record<string, number[]>, dtype: 'float' | 'double', seed = 3): Feeds {
  const rng = new Rng(seed);
  const out: Feeds = {};
  for (const [name, dims] of Object.entries(shapes)) {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (name.endsWith('weight') && dims.length === 1 ? 1 + 0.2 * rng.normal() : rng.normal()));
    out[name] = { data: dtype === 'float' ? Float32Array.from(values) : Float64Array.from(values), dims };
  }
  return out;
}

/** Builds `f` twice (fast and plain), differentiates sum(out·r) w.r.t. every input but r, compares all outputs. */
async function compare(
  shapes: Record<string, number[]>,
  fast: (g: Graph, t: Record<string, Tensor>) => Tensor,
  plain: (g: Graph, t: Record<string, Tensor>) => Tensor,
  opts: { plainGraph?: { decompose?: boolean; dtype?: 'float' | 'double' }; tol?: number } = {},
): Promise<void> {
  const run = async (f: typeof fast, gopts: { decompose?: boolean; dtype?: 'float' | 'double' }) => {
    const g = new Graph(gopts);
    const t: Record<string, Tensor> = {};
    for (const [name, dims] of Object.entries(shapes)) t[name] = g.input(name, dims);
    const y = f(g, t);
    const r = g.input('r', y.shape);
    const names = Object.keys(shapes);
    const grads = g.grad(g.reduceSum(g.mul(y, r), undefined, false), names.map((n) => t[n]));
    const outs: Record<string, Tensor> = { y };
    names.forEach((n, i) => (outs[`grad_${n}`] = grads[i]));
    const s = await Session.create(g.toModel(outs).bytes, { intraOpNumThreads: 1 });
    const dtype = gopts.dtype ?? 'float';
    const feeds = randomFeeds({ ...shapes, r: y.shape as number[] }, dtype);
    return s.run(feeds);
  };
  const a = await run(fast, {});
  const b = await run(plain, opts.plainGraph ?? {});
  for (const k of Object.keys(a)) {
    const e = maxRelDiff(a[k].data as Float32Array, b[k].data as Float32Array);
    assert.ok(e < (opts.tol ?? 2e-6), `${k}: max|diff|/max = ${e}`);
  }
}

test('class token normalised on its own = the normalised sequence\'s class token (values and gradients)', async () => {
  const shapes = { x: [3, 5, 8], 'norm.weight': [8], 'norm.bias': [8] };
  await compare(
    shapes,
    (g, t) => g.layerNorm(g.gather(t.x, 0, 1), t['norm.weight'], t['norm.bias'], 1e-6),
    (g, t) => g.gather(g.layerNorm(t.x, t['norm.weight'], t['norm.bias'], 1e-6), 0, 1),
  );
});

test('attention with the scale on the logits = the scale on q (timm), values and gradients', async () => {
  const N = 2, T = 5, D = 12, H = 3, hd = D / H;
  const shapes = { x: [N, T, D], 'qkv.weight': [3 * D, D], 'qkv.bias': [3 * D], 'proj.weight': [D, D], 'proj.bias': [D] };
  await compare(
    shapes,
    (g, t) => attention(g, (n) => t[n], '', t.x, H),
    (g, t) => {
      const qkv = g.linear(t.x, t['qkv.weight'], t['qkv.bias']);
      const [q, k, v] = g.split(qkv, -1, 3).map((z) => g.reshape(z, [N, T, H, hd]));
      const qh = g.transpose(g.mul(q, hd ** -0.5), [0, 2, 1, 3]);
      const att = g.softmax(g.matmul(qh, g.transpose(k, [0, 2, 3, 1])), -1);
      const o = g.reshape(g.transpose(g.matmul(att, g.transpose(v, [0, 2, 1, 3])), [0, 2, 1, 3]), [N, T, D]);
      return g.linear(o, t['proj.weight'], t['proj.bias']);
    },
  );
});

test('LayerNorm gradient (x̂ recomputed by the fused kernel) = plain-op LayerNorm in float64', async () => {
  const shapes = { x: [4, 3, 16], w: [16], b: [16] };
  const ln = (g: Graph, t: Record<string, Tensor>) => g.layerNorm(t.x, t.w, t.b, 1e-6);
  await compare(shapes, ln, ln, { plainGraph: { dtype: 'double' }, tol: 2e-6 });
  await compare(shapes, ln, ln, { plainGraph: { decompose: true }, tol: 5e-6 });
});

test('a class-token-only ViT graph normalises only the class token at the end', () => {
  const cfg = vitConfig('vit-tiny/8', { embedDim: 16, depth: 2, numHeads: 2, imgSize: 32 });
  const g = new Graph();
  const o = vitForward(g, graphParams(g, vitSpec(cfg)), g.input('x', ['N', 3, 32, 32]), cfg);
  const built = g.toModel({ cls: o.cls });
  assert.equal(built.ops.LayerNormalization, 2 * cfg.depth + 1);
  assert.equal(o.cls.node?.op, 'LayerNormalization');
  assert.equal(o.cls.node!.inputs[0]!.rank, 2, 'the final norm reads [N, D], not the whole sequence');
});
