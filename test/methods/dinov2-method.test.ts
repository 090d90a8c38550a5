// The DINOv2 method in process, on synthetic batches: loss parts, the mask token's gradient (finite differences through
// the whole student graph), optimiser groups, centering state, checkpoint state, Sinkhorn-Knopp with a separate iBOT
// head, batches without masks, and the ViT-only rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import type { PretrainConfig } from '../../src/config/schema.js';
import type { Batch } from '../../src/data/loader.js';
import { batchMasks } from '../../src/data/masks.js';
import type { Dinov2 } from '../../src/methods/dinov2/dinov2.js';
import { dinov2 } from '../../src/methods/dinov2/index.js';
import { dino } from '../../src/methods/dino/index.js';
import type { StepScalars } from '../../src/methods/method.js';
import { restoreState } from '../../src/methods/state.js';
import { checkedModel } from '../../src/train/setup.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { buildMethod, scalars as stepScalars } from '../helpers/methods.js';

const scalars = (step = 0): StepScalars => stepScalars({ step, lr: 1e-3, weightDecay: 0.04, momentum: 0.99, teacherTemp: 0.05 });

function config(methodArgs: Record<string, unknown> = {}, flags: Record<string, unknown> = {}): PretrainConfig {
  const file = readConfigFile('test/fixtures/dinov2/tiny-dinov2.yaml');
  file.method_args = { ...(file.method_args as object), ...methodArgs };
  return resolvePretrainConfig(file, { data: 'unused', out: 'unused', drop_path_rate: 0, ...flags });
}

const method = (cfg: PretrainConfig, init = true): Promise<Dinov2> => buildMethod<Dinov2>(cfg, { images: 37, init });

/** Random views for every crop and iBOT masks as the loader makes them (half the global crops masked, 10–50%). */
function batch(cfg: PretrainConfig, n: number, seed: number, opts: { noMasks?: boolean } = {}): Batch {
  const rng = new Rng(seed);
  const t = cfg.transforms;
  const sizes = [...Array(t.global.count).fill(t.global.size), ...Array(t.local.count).fill(t.local.size)];
  const views = sizes.map((s) => Float32Array.from({ length: n * 3 * s * s }, () => rng.normal()));
  const side = t.global.size / 8;
  const masks = opts.noMasks ? new Uint8Array(t.global.count * n * side * side) : batchMasks(rng, t.global.count * n, side, side, {
    ratio: [0.3, 0.6], probability: 0.5, minPatches: 2, minAspect: 0.3, maxBlockFraction: 0.5,
  });
  return { epoch: 0, batch: 0, size: n, views, viewSizes: sizes, indices: new Uint32Array(n), masks, maskGrid: [side, side], waitMs: 0 };
}

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + Math.abs(v), 0);

test('a step gives finite DINO, iBOT and KoLeo parts that add up to the loss with their weights', async () => {
  const cfg = config({ koleo_loss_weight: 0.25, ibot_loss_weight: 0.5 });
  const m = await method(cfg);
  try {
    const b = batch(cfg, 4, 1);
    assert.ok(sum(b.masks!) > 0, 'the synthetic batch has masked patches');
    const r = await m.forwardBackward(b, scalars());
    assert.deepEqual(Object.keys(r.parts).sort(), ['dino_global', 'dino_local', 'ibot', 'koleo']);
    for (const [k, v] of Object.entries(r.parts)) assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
    const p = r.parts;
    assert.ok(Math.abs(r.loss - (p.dino_global + p.dino_local + 0.5 * p.ibot + 0.25 * p.koleo)) < 1e-4 * Math.abs(r.loss));
    for (const name of ['mask_token', 'patch_embed.proj.weight', 'blocks.1.mlp.fc2.weight', 'dino_head.last_layer.weight_v']) {
      assert.ok(sum(m.grads.get(name)) > 0, `gradient of ${name} is zero`);
    }
  } finally {
    await m.release();
  }
});

test("the mask token's gradient matches a finite difference of the whole loss", async () => {
  // LayerScale at 1 computes what the ViT computes without it; at DINOv2's 1e-5 every class token starts out the
  // same, and KoLeo's log of their ~0 distances is too curved for a finite difference
  const cfg = config({}, { model_args: { layer_scale: 1 } });
  const m = await method(cfg);
  try {
    const b = batch(cfg, 4, 2);
    await m.forwardBackward(b, scalars());
    const grad = Float64Array.from(m.grads.get('mask_token'));
    const norm = Math.sqrt(grad.reduce((s, v) => s + v * v, 0));
    assert.ok(norm > 0);
    const token = m.params.get('mask_token');
    const base = Float32Array.from(token);
    const h = 1e-3; // the iBOT term curves fast along this direction: larger steps see its curvature
    const lossAt = async (sign: number) => {
      for (let i = 0; i < token.length; i++) token[i] = base[i] + (sign * h * grad[i]) / norm;
      return (await m.forwardBackward(b, scalars())).loss;
    };
    const slope = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
    token.set(base);
    assert.ok(Math.abs(slope - norm) < 0.01 * norm, `directional derivative ${slope} vs |grad| ${norm}`);
  } finally {
    await m.release();
  }
});

test('layer-wise learning-rate decay 0.9 and the patch embedding at 0.2x, as dinov2', async () => {
  const m = await method(config(), false);
  const scale = new Map(m.params.specs.map((s) => [s.name, s.lrScale]));
  const close = (name: string, want: number) => assert.ok(Math.abs(scale.get(name)! - want) < 1e-12, `${name}: ${scale.get(name)} vs ${want}`);
  // depth 2: tokens and patch embed are layer 0 of 3, block i is layer i + 1, the final norm and heads scale 1
  close('cls_token', 0.9 ** 3);
  close('pos_embed', 0.9 ** 3);
  close('mask_token', 0.9 ** 3);
  close('patch_embed.proj.weight', 0.2 * 0.9 ** 3);
  close('patch_embed.proj.bias', 0.2 * 0.9 ** 3);
  close('blocks.0.attn.qkv.weight', 0.9 ** 2);
  close('blocks.1.mlp.fc1.bias', 0.9);
  close('norm.weight', 1);
  close('dino_head.mlp.0.weight', 1);
  close('dino_head.last_layer.weight_v', 1);
});

test('softmax centering: separate class and patch centers move toward the teacher means and round-trip a checkpoint', async () => {
  const cfg = config();
  const m = await method(cfg);
  const b = batch(cfg, 4, 3);
  let next: number;
  let state: ReturnType<Dinov2['stateTensors']>;
  try {
    await m.forwardBackward(b, scalars(0));
    m.afterStep(scalars(0));
    assert.ok(sum(m.centerCls.values) > 0 && sum(m.centerPatch.values) > 0);
    assert.notDeepEqual([...m.centerCls.values.slice(0, 8)], [...m.centerPatch.values.slice(0, 8)]);
    // a batch without masked patches leaves the patch center as it is
    const before = Float32Array.from(m.centerPatch.values);
    const r = await m.forwardBackward(batch(cfg, 4, 4, { noMasks: true }), scalars(1));
    assert.equal(r.parts.ibot, 0);
    assert.ok(Number.isFinite(r.loss));
    assert.equal(sum(m.grads.get('mask_token')), 0);
    m.afterStep(scalars(1));
    assert.deepEqual(m.centerPatch.values, before);

    state = m.stateTensors();
    for (const k of ['student.mask_token', 'teacher.blocks.0.attn.qkv.weight', 'teacher.dino_head.last_layer.weight_g', 'dinov2.center_cls', 'dinov2.center_patch']) {
      assert.ok(state.has(k), k);
    }
    assert.deepEqual(state.get('dinov2.center_cls')!.shape, [1, 64]);
    next = (await m.forwardBackward(b, scalars(2))).loss;
  } finally {
    await m.release();
  }
  const fresh = await method(cfg);
  try {
    const copy = new Map([...state!].map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }]));
    restoreState(fresh.stateTensors(), copy);
    assert.equal((await fresh.forwardBackward(b, scalars(2))).loss, next!);
    copy.delete('dinov2.center_patch');
    assert.throws(() => restoreState(fresh.stateTensors(), copy), /dinov2\.center_patch/);
  } finally {
    await fresh.release();
  }
});

test('Sinkhorn-Knopp centering with a separate iBOT head: finite parts, no center state changes, both last layers frozen', async () => {
  const cfg = config({ centering: 'sinkhorn_knopp', ibot_separate_head: true, ibot_output_dim: 48, freeze_last_layer_steps: 3 });
  const m = await method(cfg);
  try {
    assert.equal(m.ibotHead.outDim, 48);
    assert.ok(m.params.layout.has('ibot_head.last_layer.weight_v'));
    const r = await m.forwardBackward(batch(cfg, 4, 5), scalars());
    for (const [k, v] of Object.entries(r.parts)) assert.ok(Number.isFinite(v) && v > 0, `${k} = ${v}`);
    assert.ok(sum(m.grads.get('ibot_head.mlp.0.weight')) > 0);
    m.afterStep(scalars());
    assert.equal(sum(m.centerCls.values) + sum(m.centerPatch.values), 0);
    assert.deepEqual([...m.frozenAt(2)].sort(), ['dino_head.last_layer.weight_v', 'ibot_head.last_layer.weight_v']);
    assert.deepEqual(m.frozenAt(3), []);
    // all masks empty: Sinkhorn-Knopp over no patch must not produce NaN
    const e = await m.forwardBackward(batch(cfg, 4, 6, { noMasks: true }), scalars());
    assert.equal(e.parts.ibot, 0);
    assert.ok(Number.isFinite(e.loss));
  } finally {
    await m.release();
  }
});

test("freeze_last_layer_steps 'auto' freezes the DINO head's last layer for one epoch", async () => {
  const m = await buildMethod<Dinov2>(config({ freeze_last_layer_steps: 'auto' }), { images: 37, totalSteps: 100, init: false });
  assert.equal(m.args.freeze_last_layer_steps, 9); // 37 images, batch 4: one epoch, under 10% of 100 steps
  assert.deepEqual(m.frozenAt(8), ['dino_head.last_layer.weight_v']);
  assert.deepEqual(m.frozenAt(9), []);
});

test("the definition's loader masks: the patch grid, ratio range and probability from method_args; none for DINO", () => {
  const cfg = config({ mask_ratio: [0.2, 0.4], mask_probability: 0.75 });
  assert.deepEqual(dinov2.loader!(cfg, checkedModel(cfg)), { masks: { patchSize: 8, ratio: [0.2, 0.4], probability: 0.75 } });
  assert.equal(dino.loader, undefined);
  assert.throws(() => config({ mask_ratio: [0.5, 0.1] }), /mask_ratio/);
});

test('a ResNet is refused with a UserError that says DINOv2 needs a ViT', () => {
  const cfg = config({}, { model: 'resnet18', model_args: {} });
  assert.throws(
    () => checkedModel(cfg),
    (e: unknown) => e instanceof UserError && /DINOv2 needs a Vision Transformer/.test(e.message) && /--method dino/.test(e.message),
  );
});
