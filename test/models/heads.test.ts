// DINO head and SimCLR projection head against PyTorch (test/fixtures/models/make_heads.py): names, forward,
// gradients (weight_g fixed at 1, so weight_v's gradient goes through the row normalisation), BN statistics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { dinoHeadForward, simclrHeadForward } from '../../src/models/heads.js';
import { dinoHeadConfig, dinoHeadSpec, simclrHeadConfig, simclrHeadSpec } from '../../src/models/heads-spec.js';
import { updateRunningStats, type BnStat } from '../../src/models/layers/batch-norm.js';
import { decode, decodeMap, loadFixture, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

interface HeadCase {
  cfg: Record<string, number>;
  params: Record<string, FixtureTensor>;
  x: FixtureTensor;
  out: FixtureTensor;
  coef: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  running_after?: Record<string, FixtureTensor>;
  out_eval?: FixtureTensor;
}

const fx = loadFixture<{ dino: HeadCase; simclr: HeadCase }>('heads.json');

const f32 = (t: FixtureTensor) => {
  const d = decode(t);
  return { data: d.data as Float32Array, dims: d.shape };
};
const prefixedMap = (prefix: string, m: Record<string, FixtureTensor>) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v]));

test('dino head: names, forward and gradients match dinov2 DINOHead in PyTorch', async () => {
  const c = fx.dino;
  const cfg = dinoHeadConfig(c.cfg.in, c.cfg.out, { hiddenDim: c.cfg.hidden, bottleneckDim: c.cfg.bottleneck });
  const spec = dinoHeadSpec(cfg);
  const params = prefixedMap('dino_head.', c.params);
  assert.deepEqual(spec.map((p) => p.name), Object.keys(params));
  for (const p of spec) assert.deepEqual(p.shape, params[p.name].shape, p.name);
  assert.equal(spec.find((p) => p.name.endsWith('weight_g'))!.trainable, false);

  const g = new Graph();
  const x = g.input('x', ['N', cfg.inDim]), coef = g.input('coef', ['N', cfg.outDim]);
  const out = dinoHeadForward(g, graphParams(g, spec), x, cfg);
  const loss = g.reduceSum(g.mul(out, coef), undefined, false);
  const outputs: Record<string, Tensor> = { out };
  g.grad(loss, g.params.map((p) => p.tensor)).forEach((t, i) => (outputs[`grad:${g.params[i].name}`] = t));
  const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: f32(c.x), coef: f32(c.coef) };
  for (const p of g.params) feeds[p.name] = f32(params[p.name]);
  const r = await s.run(feeds);
  await s.release();
  assert.ok(relErr(r.out.data as Float32Array, decode(c.out).data) < 1e-5);
  const grads = decodeMap(prefixedMap('dino_head.', c.grads));
  assert.deepEqual(new Set(g.params.map((p) => p.name)), new Set(grads.keys()));
  for (const [name, ref] of grads) {
    const e = relErr(r[`grad:${name}`].data as Float32Array, ref.data);
    assert.ok(e < 1e-5, `${name}: rel err ${e}`);
  }
});

test('dino head on patch tokens (rank 3) equals the head on the flattened tokens', async () => {
  const cfg = dinoHeadConfig(16, 12, { hiddenDim: 32, bottleneckDim: 8 });
  const values = new Map([...decodeMap(prefixedMap('dino_head.', fx.dino.params))].map(([k, v]) => [k, v.data as Float32Array]));
  const g = new Graph({ paramValues: values });
  const P = graphParams(g, dinoHeadSpec(cfg));
  const x = g.input('x', ['N', 3, 16]);
  const a = dinoHeadForward(g, P, x, cfg);
  const b = dinoHeadForward(g, P, g.reshape(x, [-1, 16]), cfg);
  const s = await Session.create(g.toBytes({ a, b }), { intraOpNumThreads: 1 });
  const data = new Float32Array(2 * 3 * 16).map((_, i) => Math.sin(i * 0.7));
  const r = await s.run({ x: { data, dims: [2, 3, 16] } });
  await s.release();
  assert.deepEqual(r.a.dims, [2, 3, 12]);
  assert.ok(relErr(r.a.data as Float32Array, r.b.data as Float32Array) < 1e-6);
});

test('simclr projection head: train-mode forward, BN stats, gradients and eval mode match PyTorch', async () => {
  const c = fx.simclr;
  const cfg = simclrHeadConfig(c.cfg.in, { hiddenDim: c.cfg.hidden, outDim: c.cfg.out });
  const spec = simclrHeadSpec(cfg);
  const params = prefixedMap('projection_head.', c.params);
  assert.deepEqual(spec.map((p) => p.name), Object.keys(params));
  for (const p of spec) assert.deepEqual(p.shape, params[p.name].shape, p.name);

  const g = new Graph();
  const x = g.input('x', ['N', cfg.inDim]), coef = g.input('coef', ['N', cfg.outDim]);
  const stats: BnStat[] = [];
  const out = simclrHeadForward(g, graphParams(g, spec), x, cfg, 'train', stats);
  assert.deepEqual(stats.map((st) => st.name), ['projection_head.1']);
  const loss = g.reduceSum(g.mul(out, coef), undefined, false);
  const outputs: Record<string, Tensor> = { out, mean: stats[0].mean, var: stats[0].var };
  g.grad(loss, g.params.map((p) => p.tensor)).forEach((t, i) => (outputs[`grad:${g.params[i].name}`] = t));
  const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: f32(c.x), coef: f32(c.coef) };
  for (const p of g.params) feeds[p.name] = f32(params[p.name]);
  const r = await s.run(feeds);
  await s.release();
  assert.ok(relErr(r.out.data as Float32Array, decode(c.out).data) < 1e-5);
  for (const [name, ref] of decodeMap(prefixedMap('projection_head.', c.grads))) {
    const e = relErr(r[`grad:${name}`].data as Float32Array, ref.data);
    assert.ok(e < 1e-5, `${name}: rel err ${e}`);
  }
  const values = new Map([...decodeMap(params)].map(([k, v]) => [k, Float32Array.from(v.data)]));
  updateRunningStats(values, [{ name: 'projection_head.1', mean: r.mean.data as Float32Array, var: r.var.data as Float32Array }]);
  for (const [name, ref] of decodeMap(prefixedMap('projection_head.', c.running_after!)))
    assert.ok(relErr(values.get(name)!, ref.data) < 1e-6, name);

  const ge = new Graph({ paramValues: values });
  const xe = ge.input('x', ['N', cfg.inDim]);
  const outEval = simclrHeadForward(ge, graphParams(ge, spec), xe, cfg, 'eval', []);
  const se = await Session.create(ge.toBytes({ out: outEval }), { intraOpNumThreads: 1 });
  const re = await se.run({ x: f32(c.x) });
  await se.release();
  assert.ok(relErr(re.out.data as Float32Array, decode(c.out_eval!).data) < 1e-5);
});
