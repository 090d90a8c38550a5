// The distillation loss (projections, the feature map resized to the teacher's grid, global and dense KL terms)
// against PyTorch autograd (test/fixtures/distillation/make_loss.py), loss parts and the gradients of every
// trainable input: the student's features and both projection heads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Graph, Session } from '../../src/graph/index.js';
import { DENSE_HEAD, distillationHeadSpec, GLOBAL_HEAD, projectAndCompare } from '../../src/methods/distillation/distillation.js';
import { bilinearMatrix } from '../../src/methods/distillation/interpolation.js';
import { graphParams } from '../../src/models/graph-params.js';
import { relErr } from '../fixtures/models/fixture.js';

interface LossCase {
  name: string;
  variant: 'global' | 'dense' | 'both';
  n: number;
  c: number;
  dg: number;
  dd: number;
  q: number;
  map: [number, number];
  grid: [number, number];
  temperature_global: number;
  temperature_dense: number;
  dense_weight: number;
  inputs: Record<string, number[]>;
  loss: number;
  parts: Record<string, number>;
  grads: Record<string, number[]>;
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/distillation/loss.json', import.meta.url), 'utf8')) as { cases: LossCase[] };

/** fixture name -> graph name */
const PARAMS: Record<string, string> = { wg: `${GLOBAL_HEAD}.weight`, bg: `${GLOBAL_HEAD}.bias`, wd: `${DENSE_HEAD}.weight`, bd: `${DENSE_HEAD}.bias` };

for (const c of fx.cases) {
  test(`distillation loss '${c.name}': loss, parts and gradients match PyTorch`, async () => {
    const teacher = {
      global: c.variant !== 'dense' ? { name: 'embedding', dim: c.dg } : undefined,
      dense: c.variant !== 'global' ? { name: 'patch_tokens', dim: c.dd, layout: 'tokens' as const } : undefined,
    };
    const g = new Graph();
    const P = graphParams(g, distillationHeadSpec(c.c, teacher));
    const pooled = teacher.global ? g.input('pooled', ['N', c.c]) : g.input('unused', [1]);
    const map = teacher.dense ? g.input('fmap', ['N', c.c, ...c.map]) : undefined;
    const r = projectAndCompare(g, P, pooled, map, {
      teacher, grid: { rows: c.grid[0], cols: c.grid[1] }, queueSize: c.q, args: c,
    });
    const wrt: Record<string, ReturnType<Graph['input']>> = {};
    if (teacher.global) wrt.pooled = pooled;
    if (map) wrt.fmap = map;
    for (const [k, name] of Object.entries(PARAMS)) if (c.inputs[k]) wrt[k] = P(name);
    const grads = g.grad(r.loss, Object.values(wrt));
    const outputs = { loss: r.loss, ...r.parts, ...Object.fromEntries(Object.keys(wrt).map((k, i) => [`grad_${k}`, grads[i]])) };
    const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
    const dims: Record<string, number[]> = {
      unused: [1], pooled: [c.n, c.c], fmap: [c.n, c.c, ...c.map], tg: [c.n, c.dg], queue: [c.q, c.dg], td: [c.n, c.grid[0] * c.grid[1], c.dd],
      wg: [c.dg, c.c], bg: [c.dg], wd: [c.dd, c.c], bd: [c.dd],
    };
    const feedName: Record<string, string> = { tg: 'teacher_global', td: 'teacher_dense', ...PARAMS };
    const feeds = Object.fromEntries(
      Object.entries(c.inputs)
        .filter(([k]) => (k !== 'fmap' || map) && (k !== 'pooled' || teacher.global))
        .concat(teacher.global ? [] : [['unused', [0]]])
        .map(([k, v]) => [feedName[k] ?? k, { data: Float32Array.from(v), dims: dims[k] }]),
    );
    const out = await s.run(feeds);
    await s.release();
    const close = (ours: number, torch: number, what: string) => assert.ok(Math.abs(ours - torch) <= 2e-5 * Math.max(1, Math.abs(torch)), `${what} ${ours} vs torch ${torch}`);
    close(out.loss.data[0] as number, c.loss, 'loss');
    if (c.parts.global !== undefined) close(out.distill_global.data[0] as number, c.parts.global, 'global part');
    if (c.parts.dense !== undefined) close(out.distill_dense.data[0] as number, c.parts.dense, 'dense part');
    for (const k of Object.keys(wrt)) {
      const e = relErr(out[`grad_${k}`].data as Float32Array, c.grads[k]);
      assert.ok(e < 1e-4, `gradient of ${k}: rel err ${e}`);
    }
  });
}

test("bilinear resize matrix: torch's align_corners=False sampling, rows summing to 1", () => {
  // 2 -> 4: samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (the last neighbour clamps to the edge)
  assert.deepEqual(Array.from(bilinearMatrix(2, 4)), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  // same size: the identity
  assert.deepEqual(Array.from(bilinearMatrix(3, 3)), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const m = bilinearMatrix(7, 3);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(m.subarray(i * 7, i * 7 + 7).reduce((a, b) => a + b, 0) - 1) < 1e-6);
});
