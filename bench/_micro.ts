import * as ort from 'onnxruntime-node';
import { Graph, toBytes, defineVjp, type Tensor } from '../src/graph/index.js';
import os from 'node:os';

const SQ = Math.SQRT1_2, C0 = 1 / Math.sqrt(2 * Math.PI);
defineVjp('Gelu', (g, { inputs: [x] }, [gy]) => {
  const X = x!;
  const u = g.mul(X, SQ);
  const phi = g.add(g.mul(g.erf(u), 0.5), 0.5);
  const e = g.exp(g.neg(g.mul(u, u)));
  const d = g.add(phi, g.mul(g.mul(X, e), C0));
  return [g.mul(gy!, d)];
});
const V = (process.env.V ?? 'base,gelu,attn,all').split(',');
const geluOf = (g: Graph, x: Tensor, fused: boolean) => fused ? g.node('Gelu', [x], null, [[x.shape, x.dtype]], { domain: 'com.microsoft' })[0] : g.gelu(x);
function attnBase(g: Graph, P: (n: string) => Tensor, x: Tensor, H: number) {
  const [N, T, D] = x.shape; const hd = (D as number) / H;
  const qkv = g.linear(x, P('qkv.weight'), P('qkv.bias'));
  const heads = (t: Tensor) => g.reshape(t, [N, T, H, hd]);
  const [q, k, v] = g.split(qkv, -1, 3).map(heads);
  const qh = g.transpose(g.mul(q, hd ** -0.5), [0, 2, 1, 3]);
  const kt = g.transpose(k, [0, 2, 3, 1]);
  const vh = g.transpose(v, [0, 2, 1, 3]);
  const att = g.softmax(g.matmul(qh, kt), -1);
  const o = g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [N, T, D]);
  return g.linear(o, P('proj.weight'), P('proj.bias'));
}
function attnNew(g: Graph, P: (n: string) => Tensor, x: Tensor, H: number) {
  const [N, T, D] = x.shape; const hd = (D as number) / H;
  const qkv = g.linear(x, P('qkv.weight'), P('qkv.bias'));
  const t = g.transpose(g.reshape(qkv, [N, T, 3, H, hd]), [2, 0, 3, 1, 4]); // [3,N,H,T,hd]
  const [q, k, v] = g.split(t, 0, 3).map((z) => g.reshape(z, [N, H, T, hd]));
  const att = g.softmax(g.mul(g.matmul(q, g.swapLast(k)), hd ** -0.5), -1);
  const o = g.reshape(g.transpose(g.matmul(att, v), [0, 2, 1, 3]), [N, T, D]);
  return g.linear(o, P('proj.weight'), P('proj.bias'));
}
function build(variant: string, N: number, T: number) {
  const D = 192, H = 3;
  const g = new Graph();
  const x = g.input('x', [N, T, D]);
  const r = g.input('r', [N, T, D]);
  const shapes: Record<string, number[]> = { 'n1.w': [D], 'n1.b': [D], 'qkv.weight': [3 * D, D], 'qkv.bias': [3 * D], 'proj.weight': [D, D], 'proj.bias': [D], 'n2.w': [D], 'n2.b': [D], 'fc1.weight': [4 * D, D], 'fc1.bias': [4 * D], 'fc2.weight': [D, 4 * D], 'fc2.bias': [D] };
  const ps: Record<string, Tensor> = {}; for (const [n, s] of Object.entries(shapes)) ps[n] = g.param(n, s);
  const P = (n: string) => ps[n];
  const fusedGelu = variant === 'gelu' || variant === 'all';
  const newAttn = variant === 'attn' || variant === 'all';
  let h = x;
  for (let i = 0; i < 2; i++) {
    h = g.add(h, (newAttn ? attnNew : attnBase)(g, P, g.layerNorm(h, P('n1.w'), P('n1.b'), 1e-6), H));
    const m = g.linear(geluOf(g, g.linear(g.layerNorm(h, P('n2.w'), P('n2.b'), 1e-6), P('fc1.weight'), P('fc1.bias')), fusedGelu), P('fc2.weight'), P('fc2.bias'));
    h = g.add(h, m);
  }
  const loss = g.reduceSum(g.mul(h, r), undefined, false);
  const wrt = [x, ...Object.values(ps)];
  const grads = g.grad(loss, wrt);
  const outs: Record<string, Tensor> = { loss }; wrt.forEach((t, i) => (outs[`g${i}`] = grads[i]));
  return { bytes: toBytes(g, outs).bytes, shapes };
}
let seed = 1; const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
for (const [N, T] of [[64, 37], [192, 10]]) {
  const sess: Record<string, { s: ort.InferenceSession; feeds: Record<string, ort.Tensor> }> = {};
  const D = 192;
  const xdata = Float32Array.from({ length: N * T * D }, rnd), rdata = Float32Array.from({ length: N * T * D }, rnd);
  for (const v of V) {
    const { bytes, shapes } = build(v, N, T);
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xdata, [N, T, D]), r: new ort.Tensor('float32', rdata, [N, T, D]) };
    let sd = 7; const r2 = () => ((sd = (sd * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.2;
    for (const [n, sh] of Object.entries(shapes)) feeds[n] = new ort.Tensor('float32', Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, n.endsWith('.w') ? () => 1 + r2() : r2), sh);
    sess[v] = { s, feeds };
  }
  // correctness vs base
  const ref = await sess[V[0]].s.run(sess[V[0]].feeds);
  for (const v of V.slice(1)) {
    const o = await sess[v].s.run(sess[v].feeds); let worst = 0;
    for (const k of Object.keys(ref)) { const a = ref[k].data as Float32Array, b = o[k].data as Float32Array; let md = 0, mx = 0; for (let i = 0; i < a.length; i++) { md = Math.max(md, Math.abs(a[i] - b[i])); mx = Math.max(mx, Math.abs(a[i])); } worst = Math.max(worst, md / (mx || 1)); }
    console.log(`N=${N} T=${T} ${v}: worst rel diff vs ${V[0]} ${worst.toExponential(2)}`);
  }
  const times: Record<string, number[]> = Object.fromEntries(V.map((v) => [v, []]));
  const reps = Number(process.env.REPS ?? 15);
  for (let i = 0; i < reps; i++) for (const v of (i % 2 ? [...V].reverse() : V)) { const t = performance.now(); await sess[v].s.run(sess[v].feeds); times[v].push(performance.now() - t); }
  const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
  console.log(`N=${N} T=${T} load ${os.loadavg()[0].toFixed(1)}: ` + V.map((v) => `${v} med ${med(times[v]).toFixed(1)} min ${Math.min(...times[v]).toFixed(1)}`).join(' | '));
}
