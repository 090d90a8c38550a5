// Convs as image columns + one Gemm (graph/ops/conv-gemm.ts) against the float64 reference and ORT's own Conv:
// small maps (the whole conv as a Gemm, gradients through Gather's selection-matrix rule), bigger maps (only the
// weight gradient as a Gemm), strides, dilation, 1x1, bias, a symbolic batch run at two sizes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type ConvOptions } from '../../src/graph/index.js';
import { Rng } from '../../src/util/rng.js';
import { maxRelDiff } from '../helpers/compare.js';

interface Case {
  c: number;
  o: number;
  hw: [number, number];
  k: number;
  opts: ConvOptions;
  bias?: boolean;
  /** whole conv as a Gemm (else ORT's Conv with a Gemm weight gradient) */
  gemm: boolean;
}

const cases: Case[] = [
  { c: 16, o: 24, hw: [4, 4], k: 3, opts: { pads: [1, 1, 1, 1] }, bias: true, gemm: true }, // stride 1: composite
  { c: 32, o: 16, hw: [2, 2], k: 3, opts: { pads: [1, 1, 1, 1] }, gemm: true },
  { c: 16, o: 16, hw: [8, 8], k: 3, opts: { pads: [1, 1, 1, 1] }, gemm: true },
  { c: 24, o: 8, hw: [8, 8], k: 1, opts: {}, gemm: true },
  { c: 16, o: 8, hw: [6, 5], k: 3, opts: { pads: [2, 1, 2, 1], dilations: [2, 1] }, gemm: true },
  { c: 16, o: 32, hw: [7, 6], k: 3, opts: { pads: [1, 1, 1, 1], strides: [2, 2] }, gemm: true }, // 4x3 strided: autodiff
  { c: 16, o: 8, hw: [4, 4], k: 1, opts: { strides: [2, 2] }, gemm: true },
  { c: 16, o: 8, hw: [9, 8], k: 3, opts: { pads: [2, 1, 2, 1], dilations: [2, 1] }, gemm: false }, // 72 positions
  { c: 16, o: 16, hw: [12, 12], k: 3, opts: { pads: [1, 1, 1, 1], strides: [2, 2] }, gemm: false }, // 6x6 strided
];

function build(cs: Case, mode: 'gemm' | 'conv' | 'double') {
  const g = new Graph(mode === 'double' ? { dtype: 'double' } : { convGemm: mode === 'gemm' });
  const x = g.input('x', ['N', cs.c, ...cs.hw]);
  const w = g.param('w', [cs.o, cs.c, cs.k, cs.k]);
  const b = cs.bias ? g.param('b', [cs.o]) : null;
  const y = g.conv(x, w, b, cs.opts);
  const r = g.input('r', y.shape);
  const grads = g.grad(g.reduceSum(g.mul(y, r), undefined, false), b ? [x, w, b] : [x, w]);
  const outs = { y, gx: grads[0], gw: grads[1], ...(b ? { gb: grads[2] } : {}) };
  return { model: g.toModel(outs), yShape: y.shape.slice(1) as number[] };
}

test('conv as im2col + Gemm = ORT Conv = float64 reference: outputs and gradients, several geometries and batches', async () => {
  for (const cs of cases) {
    const [gm, cv, db] = (['gemm', 'conv', 'double'] as const).map((m) => build(cs, m));
    const positions = cs.hw[0] * cs.hw[1];
    if (cs.gemm) assert.equal((gm.model.ops.Conv ?? 0) + (gm.model.ops.ConvTranspose ?? 0), 0, `${JSON.stringify(cs)}: no Conv node`);
    else assert.equal((gm.model.ops.Conv ?? 0) + (gm.model.ops.ConvTranspose ?? 0), 2, `${JSON.stringify(cs)}: forward + input-gradient convs only`);
    assert.ok(gm.model.ops.Gemm >= 1 && cv.model.ops.Gemm === undefined);
    const sessions = await Promise.all([gm, cv, db].map((m) => Session.create(m.model.bytes, { intraOpNumThreads: 2 })));
    for (const n of [3, 5]) {
      const rng = new Rng(n * 100 + positions);
      const vals = (len: number) => Array.from({ length: len }, () => rng.normal());
      const dims: Record<string, number[]> = { x: [n, cs.c, ...cs.hw], w: [cs.o, cs.c, cs.k, cs.k], r: [n, ...gm.yShape], ...(cs.bias ? { b: [cs.o] } : {}) };
      const raw = Object.fromEntries(Object.entries(dims).map(([k, d]) => [k, vals(d.reduce((a, v) => a * v, 1))]));
      const feeds = (T: Float32ArrayConstructor | Float64ArrayConstructor) => Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, { data: T.from(v), dims: dims[k] }]));
      const [a, c, ref] = await Promise.all(sessions.map((s, i) => s.run(feeds(i === 2 ? Float64Array : Float32Array))));
      for (const key of Object.keys(a)) {
        assert.deepEqual(a[key].dims, ref[key].dims, key);
        const e = maxRelDiff(a[key].data as Float32Array, ref[key].data as Float64Array);
        const e0 = maxRelDiff(c[key].data as Float32Array, ref[key].data as Float64Array);
        assert.ok(e < 2e-6, `${JSON.stringify(cs)} N=${n} ${key}: gemm path ${e} (ORT Conv ${e0})`);
      }
    }
  }
});

test('Gather gradient with repeated indices sums every repeat, deterministically on 2 threads', async () => {
  // 64 rows read 9 times each by overlapping windows: ScatterND-add on several threads loses some of these
  const idx: number[] = [];
  for (let i = 0; i < 62; i++) for (let d = 0; d < 3; d++) for (let rep = 0; rep < 3; rep++) idx.push(i + d);
  const g = new Graph();
  const x = g.input('x', [8, 64, 96]);
  const y = g.gather(x, idx, 1);
  const r = g.input('r', y.shape);
  const [gx] = g.grad(g.reduceSum(g.mul(y, r), undefined, false), [x]);
  const s = await Session.create(g.toModel({ gx }).bytes, { intraOpNumThreads: 2 });
  const rng = new Rng(9);
  const rv = Float32Array.from({ length: 8 * idx.length * 96 }, () => rng.normal());
  const expect = new Float64Array(8 * 64 * 96);
  for (let b = 0; b < 8; b++) idx.forEach((row, j) => { for (let c = 0; c < 96; c++) expect[(b * 64 + row) * 96 + c] += rv[(b * idx.length + j) * 96 + c]; });
  for (let run = 0; run < 5; run++) {
    const out = await s.run({ x: { data: new Float32Array(8 * 64 * 96), dims: [8, 64, 96] }, r: { data: rv, dims: [8, idx.length, 96] } });
    assert.ok(maxRelDiff(out.gx.data as Float32Array, expect) < 1e-6, `run ${run}`);
  }
});
