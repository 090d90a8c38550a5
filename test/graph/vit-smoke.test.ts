// The probe's functional ViT (probes/own-autodiff/vit.mjs) ported to the graph API: a tiny 2-block transformer
// with a DINO-style head and loss, symbolic batch. float64 gradients vs finite differences; the float32 graph
// (fused LayerNormalization, Erf) vs the float64 one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Dim, type Tensor } from '../../src/graph/index.js';
import { gradCheck } from '../../src/graph/gradcheck.js';
import { Rng } from '../../src/util/rng.js';

const cfg = { img: 16, patch: 8, dim: 8, heads: 2, depth: 2, mlp: 16, out: 6 };
const n = cfg.img / cfg.patch, T = n * n + 1, D = cfg.dim, hd = D / cfg.heads, P = cfg.patch;

function paramShapes(): [string, number[]][] {
  const s: [string, number[]][] = [['patch_embed.proj.weight', [D, 3 * P * P]], ['patch_embed.proj.bias', [D]], ['cls_token', [1, 1, D]], ['pos_embed', [1, T, D]]];
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}.`;
    s.push([b + 'norm1.weight', [D]], [b + 'norm1.bias', [D]], [b + 'attn.qkv.weight', [3 * D, D]], [b + 'attn.qkv.bias', [3 * D]]);
    s.push([b + 'attn.proj.weight', [D, D]], [b + 'attn.proj.bias', [D]], [b + 'norm2.weight', [D]], [b + 'norm2.bias', [D]]);
    s.push([b + 'mlp.fc1.weight', [cfg.mlp, D]], [b + 'mlp.fc1.bias', [cfg.mlp]], [b + 'mlp.fc2.weight', [D, cfg.mlp]], [b + 'mlp.fc2.bias', [D]]);
  }
  s.push(['norm.weight', [D]], ['norm.bias', [D]], ['head.weight', [cfg.out, D]]);
  return s;
}

function buildLoss(g: Graph, B: Dim): { loss: Tensor; params: Tensor[] } {
  const p: Record<string, Tensor> = {};
  for (const [name, shape] of paramShapes()) p[name] = g.param(name, shape);
  const x = g.input('x', [B, 3, cfg.img, cfg.img]), target = g.input('target', [B, cfg.out]);
  const ln = (t: Tensor, pre: string) => g.layerNorm(t, p[pre + '.weight'], p[pre + '.bias'], 1e-6);
  const patches = g.reshape(g.transpose(g.reshape(x, [B, 3, n, P, n, P]), [0, 2, 4, 1, 3, 5]), [B, n * n, 3 * P * P]);
  let z = g.linear(patches, p['patch_embed.proj.weight'], p['patch_embed.proj.bias']);
  z = g.add(g.concat([g.expand(p.cls_token, [B, 1, D]), z], 1), p.pos_embed);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}.`;
    const qkv = g.linear(ln(z, b + 'norm1'), p[b + 'attn.qkv.weight'], p[b + 'attn.qkv.bias']);
    const [q, k, v] = g.split(qkv, -1, [D, D, D]).map((t) => g.transpose(g.reshape(t, [B, T, cfg.heads, hd]), [0, 2, 1, 3]));
    const att = g.softmax(g.mul(g.matmul(q, g.swapLast(k)), hd ** -0.5), -1);
    const o = g.reshape(g.transpose(g.matmul(att, v), [0, 2, 1, 3]), [B, T, D]);
    z = g.add(z, g.linear(o, p[b + 'attn.proj.weight'], p[b + 'attn.proj.bias']));
    const h = g.gelu(g.linear(ln(z, b + 'norm2'), p[b + 'mlp.fc1.weight'], p[b + 'mlp.fc1.bias']));
    z = g.add(z, g.linear(h, p[b + 'mlp.fc2.weight'], p[b + 'mlp.fc2.bias']));
  }
  const cls = ln(g.gather(z, 0, 1), 'norm');
  const s = g.linear(g.l2Normalize(cls, -1), p['head.weight']);
  const loss = g.neg(g.reduceMean(g.reduceSum(g.mul(target, g.logSoftmax(g.div(s, 0.1), -1)), [-1], false), [0], false));
  return { loss, params: paramShapes().map(([name]) => p[name]) };
}

function feeds(batch: number, dtype: 'float' | 'double') {
  const rng = new Rng(42);
  const make = (len: number, f: () => number) => (dtype === 'float' ? Float32Array.from({ length: len }, f) : Float64Array.from({ length: len }, f));
  const arr = (len: number, scale: number) => make(len, () => rng.normal() * scale);
  const f: Record<string, { data: Float32Array | Float64Array; dims: number[] }> = {};
  for (const [name, shape] of paramShapes()) {
    const len = shape.reduce((a, b) => a * b, 1);
    f[name] = { data: name.endsWith('norm1.weight') || name.endsWith('norm2.weight') || name === 'norm.weight' ? make(len, () => 1 + rng.normal() * 0.1) : arr(len, 0.2), dims: shape };
  }
  f.x = { data: arr(batch * 3 * cfg.img * cfg.img, 1), dims: [batch, 3, cfg.img, cfg.img] };
  const t = make(batch * cfg.out, () => rng.uniform(0, 1));
  for (let r = 0; r < batch; r++) {
    let sum = 0;
    for (let c = 0; c < cfg.out; c++) sum += t[r * cfg.out + c];
    for (let c = 0; c < cfg.out; c++) t[r * cfg.out + c] /= sum;
  }
  f.target = { data: t, dims: [batch, cfg.out] };
  return f;
}

test('tiny ViT (2 blocks, symbolic batch): float64 gradients match finite differences', async () => {
  const r = await gradCheck((g) => {
    const { loss, params } = buildLoss(g, 'N');
    const pick = ['patch_embed.proj.weight', 'cls_token', 'blocks.0.norm1.weight', 'blocks.0.attn.qkv.weight', 'blocks.1.mlp.fc1.bias', 'norm.bias', 'head.weight'];
    return { loss, wrt: params.filter((t) => pick.includes(t.name)) };
  }, { feeds: feeds(3, 'double'), samples: 2 });
  assert.ok(r.worst < 1e-6, JSON.stringify(r.tensors.map((t) => [t.name, t.relErr])));
  assert.ok(r.tensors.every((t) => t.maxAbsGrad > 0));
});

test('tiny ViT: the float32 graph (fused LayerNorm, Erf) gives the float64 gradients at batch 2 and 4', async () => {
  const build = (dtype: 'float' | 'double') => {
    const g = new Graph({ dtype });
    const { loss, params } = buildLoss(g, 'N');
    const grads = g.grad(loss, params);
    const outs: Record<string, Tensor> = { loss };
    params.forEach((t, i) => (outs[`grad:${t.name}`] = grads[i]));
    return { bytes: g.toModel(outs), names: params.map((t) => t.name) };
  };
  const f32 = build('float'), f64 = build('double');
  assert.ok(f32.bytes.ops.LayerNormalization > 0 && f32.bytes.ops.Erf > 0);
  assert.equal(f64.bytes.ops.LayerNormalization, undefined);
  const s32 = await Session.create(f32.bytes.bytes, { intraOpNumThreads: 1 });
  const s64 = await Session.create(f64.bytes.bytes, { intraOpNumThreads: 1 });
  for (const batch of [2, 4]) {
    const a = await s32.run(feeds(batch, 'float')), b = await s64.run(feeds(batch, 'double'));
    const la = a.loss.data[0] as number, lb = b.loss.data[0] as number;
    assert.ok(Math.abs(la - lb) < 1e-5 * Math.abs(lb), `loss ${la} vs ${lb}`);
    for (const name of f32.names) {
      const x = a[`grad:${name}`].data as Float32Array, y = b[`grad:${name}`].data as Float64Array;
      let md = 0, my = 0;
      for (let i = 0; i < y.length; i++) [md, my] = [Math.max(md, Math.abs(x[i] - y[i])), Math.max(my, Math.abs(y[i]))];
      assert.ok(md <= 5e-6 * my, `batch ${batch} ${name}: ${md / my}`);
    }
  }
});
