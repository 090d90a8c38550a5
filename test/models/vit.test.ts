// ViT forward passes and gradients against PyTorch (test/fixtures/models/make_vit.py) on the same weights:
// a 32 px global crop (stored 4x4 grid) and a 16 px local crop (pos-embed interpolated to 2x2), LayerScale,
// register tokens, the mask token and drop-path keep masks; export mode (weights as initializers) too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { vitForward, type VitOutputs } from '../../src/models/vit.js';
import { vitConfig, type VitConfig } from '../../src/models/vit-config.js';
import { vitSpec } from '../../src/models/vit-spec.js';
import { decode, decodeMap, loadFixture, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

interface VitCase {
  name: string;
  cfg: { img: number; patch: number; dim: number; depth: number; heads: number; ls?: number; reg?: number; mask_token?: boolean };
  params: Record<string, FixtureTensor>;
  inputs: Record<string, FixtureTensor>;
  coef: Record<string, FixtureTensor>;
  outputs: Record<'global' | 'local', Record<string, FixtureTensor>>;
  loss: number;
  grads: Record<string, FixtureTensor>;
}

const fx = loadFixture<{ cases: VitCase[] }>('vit.json');

function configOf(c: VitCase): VitConfig {
  return vitConfig('vit-tiny/8', {
    embedDim: c.cfg.dim,
    depth: c.cfg.depth,
    numHeads: c.cfg.heads,
    imgSize: c.cfg.img,
    layerScale: c.cfg.ls,
    numRegisters: c.cfg.reg ?? 0,
    maskToken: c.cfg.mask_token ?? false,
  });
}

/** Builds both crops' forward passes; with `withGrad`, also the fixture's loss and its gradients. */
function build(c: VitCase, g: Graph, withGrad: boolean) {
  const cfg = configOf(c);
  const P = graphParams(g, vitSpec(cfg));
  const xg = g.input('x_global', ['N', 3, 32, 32]);
  const xl = g.input('x_local', ['M', 3, 16, 16]);
  const masks = c.inputs.masks ? g.input('masks', ['N', 16]) : undefined;
  const dropPath = c.inputs.drop_path ? Array.from({ length: 2 * cfg.depth }, (_, i) => g.input(`keep_${i}`, ['N'])) : undefined;
  const og = vitForward(g, P, xg, cfg, { masks, dropPath });
  const ol = vitForward(g, P, xl, cfg);
  const outputs: Record<string, Tensor> = {};
  const put = (crop: string, o: VitOutputs) => {
    outputs[`${crop}.cls`] = o.cls;
    outputs[`${crop}.patch`] = o.patchTokens;
    outputs[`${crop}.prenorm_cls`] = o.preNormCls;
    if (o.regTokens) outputs[`${crop}.reg`] = o.regTokens;
  };
  put('global', og);
  put('local', ol);
  if (withGrad) {
    const cg = g.input('coef_cg', ['N', cfg.embedDim]), pl = g.input('coef_pl', ['M', 4, cfg.embedDim]);
    const sum = (t: Tensor) => g.reduceSum(t, undefined, false);
    let loss = g.add(g.add(sum(g.mul(og.cls, cg)), sum(g.mul(ol.patchTokens, pl))), g.add(sum(g.mul(og.patchTokens, og.patchTokens)), sum(g.mul(ol.preNormCls, ol.preNormCls))));
    if (og.regTokens) loss = g.add(loss, sum(g.mul(og.regTokens, og.regTokens)));
    outputs.loss = loss;
    const ps = g.params;
    g.grad(loss, ps.map((p) => p.tensor)).forEach((t, i) => (outputs[`grad:${ps[i].name}`] = t));
  }
  return { cfg, outputs };
}

function feedsOf(c: VitCase, g: Graph, withGrad: boolean) {
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  const f = (t: FixtureTensor) => {
    const d = decode(t);
    return { data: d.data as Float32Array, dims: d.shape };
  };
  feeds.x_global = f(c.inputs.global);
  feeds.x_local = f(c.inputs.local);
  if (c.inputs.masks) feeds.masks = f(c.inputs.masks);
  if (c.inputs.drop_path) {
    const dp = decode(c.inputs.drop_path);
    const n = dp.shape[1];
    for (let i = 0; i < dp.shape[0]; i++) feeds[`keep_${i}`] = { data: (dp.data as Float32Array).slice(i * n, (i + 1) * n), dims: [n] };
  }
  if (withGrad) {
    feeds.coef_cg = f(c.coef.cg);
    feeds.coef_pl = f(c.coef.pl);
  }
  if (!g.paramsAreInitializers) for (const p of g.params) feeds[p.name] = f(c.params[p.name]);
  return feeds;
}

function checkOutputs(c: VitCase, out: Record<string, { data: unknown }>, tol: number) {
  for (const crop of ['global', 'local'] as const)
    for (const [k, t] of Object.entries(c.outputs[crop])) {
      if (k === 'reg' && !c.cfg.reg) continue;
      const e = relErr(out[`${crop}.${k}`].data as Float32Array, decode(t).data);
      assert.ok(e < tol, `${c.name} ${crop}.${k}: rel err ${e}`);
    }
}

for (const c of fx.cases) {
  test(`vit '${c.name}': forward and gradients match PyTorch`, async () => {
    const g = new Graph();
    const { outputs } = build(c, g, true);
    const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
    const out = await s.run(feedsOf(c, g, true));
    await s.release();
    checkOutputs(c, out, 1e-5);
    const loss = out.loss.data[0] as number;
    assert.ok(Math.abs(loss - c.loss) / Math.abs(c.loss) < 1e-5, `loss ${loss} vs ${c.loss}`);
    const grads = decodeMap(c.grads);
    // every torch parameter has a gradient here (mask_token only where masks are used)
    assert.deepEqual(new Set(g.params.map((p) => p.name)), new Set(grads.keys()));
    for (const [name, ref] of grads) {
      const e = relErr(out[`grad:${name}`].data as Float32Array, ref.data);
      assert.ok(e < 1e-5, `${c.name} grad ${name}: rel err ${e}`);
    }
  });

  test(`vit '${c.name}': export mode (weights as initializers) gives the same outputs`, async () => {
    const values = new Map([...decodeMap(c.params)].map(([k, v]) => [k, v.data as Float32Array]));
    const g = new Graph({ paramValues: values });
    const { outputs } = build(c, g, false);
    const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
    const feeds = feedsOf(c, g, false);
    assert.equal(Object.keys(feeds).some((k) => values.has(k)), false);
    checkOutputs(c, await s.run(feeds), 1e-5);
    await s.release();
  });
}

test('vit: masked patches read mask_token, drop path zeroes a branch per sample', async () => {
  const c = fx.cases.find((x) => x.name === 'dinov2')!;
  const run = async (masks: Float32Array, keep0: Float32Array, boolMask = false) => {
    const g = new Graph();
    const cfg = configOf(c);
    const P = graphParams(g, vitSpec(cfg));
    const x = g.input('x', ['N', 3, 32, 32]);
    const m = g.input('m', ['N', 16], boolMask ? 'bool' : 'float');
    const dp = Array.from({ length: 2 * cfg.depth }, (_, i) => (i === 0 ? g.input('k0', ['N']) : undefined));
    const o = vitForward(g, P, x, cfg, { masks: m, dropPath: dp });
    const s = await Session.create(g.toBytes({ cls: o.cls }), { intraOpNumThreads: 1 });
    const feeds: Record<string, { data: Float32Array | Uint8Array; dims: number[] }> = {
      x: { data: decode(c.inputs.global).data as Float32Array, dims: [2, 3, 32, 32] },
      m: boolMask ? { data: Uint8Array.from(masks), dims: [2, 16] } : { data: masks, dims: [2, 16] },
      k0: { data: keep0, dims: [2] },
    };
    for (const p of g.params) feeds[p.name] = { data: decode(c.params[p.name]).data as Float32Array, dims: decode(c.params[p.name]).shape };
    const out = (await s.run(feeds)).cls.data as Float32Array;
    await s.release();
    return [out.slice(0, cfg.embedDim), out.slice(cfg.embedDim)];
  };
  const none = new Float32Array(32), ones = new Float32Array([1, 1]);
  const [a0, a1] = await run(none, ones);
  const masked = none.slice();
  masked[16 + 3] = 1; // sample 1, patch 3
  const [b0, b1] = await run(masked, ones);
  assert.deepEqual(b0, a0, 'masking sample 1 leaves sample 0 unchanged');
  assert.ok(relErr(b1, a1) > 1e-3, 'the masked patch changes sample 1');
  const [d0, d1] = await run(masked, ones, true);
  assert.ok(relErr(d0, b0) < 1e-6 && relErr(d1, b1) < 1e-6, 'a bool mask selects like the float mask');
  const [c0, c1] = await run(none, new Float32Array([1, 0]));
  assert.deepEqual(c0, a0);
  assert.ok(relErr(c1, a1) > 1e-3, 'dropping the first attention branch changes sample 1');
});
