// Parameter specs (timm / torchvision key lists from the fixtures), initialisation, optimizer flags, the model
// registry and the position-embedding interpolation matrix vs torch.nn.functional.interpolate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { dinoHeadConfig, dinoHeadSpec } from '../../src/models/heads-spec.js';
import { dropPathRates, sampleKeepMask } from '../../src/models/layers/drop-path.js';
import { initParams, layerDecayScale, type ParamSpec } from '../../src/models/params.js';
import { numel as numelOf } from '../../src/util/shape.js';
import { posEmbedMatrix, type PosInterpolation } from '../../src/models/pos-embed.js';
import { getModel, MODEL_NAMES } from '../../src/models/registry.js';
import { resnetConfig, resnetSpec } from '../../src/models/resnet-spec.js';
import { vitConfig } from '../../src/models/vit-config.js';
import { vitSpec } from '../../src/models/vit-spec.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { decode, loadFixture, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

const vitFx = loadFixture<{ timm_keys: Record<string, Record<string, number[]>> }>('vit.json');
const resFx = loadFixture<{ torchvision_keys: Record<string, Record<string, number[]>> }>('resnet.json');
const posFx = loadFixture<{
  cases: { from: [number, number]; to: [number, number]; mode: PosInterpolation; M: FixtureTensor }[];
  pos: FixtureTensor;
  pos_new_2x2: FixtureTensor;
}>('pos_embed.json');

const asKeys = (spec: ParamSpec[]) => Object.fromEntries(spec.map((p) => [p.name, p.shape]));
const std = (a: Float32Array) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length);
};

test('pos-embed matrix equals F.interpolate(bicubic, align_corners=False) for DINO and timm conventions', () => {
  assert.ok(posFx.cases.length >= 9);
  for (const c of posFx.cases) {
    const M = posEmbedMatrix({ rows: c.from[0], cols: c.from[1] }, { rows: c.to[0], cols: c.to[1] }, c.mode);
    const e = relErr(M, decode(c.M).data);
    assert.ok(e < 1e-12, `${c.from} -> ${c.to} (${c.mode}): ${e}`);
  }
  // a float32 embedding through the matrix vs DINOv2's own call on it (4x4 -> 2x2, 8 channels)
  const pos = decode(posFx.pos).data, ref = decode(posFx.pos_new_2x2).data;
  const M = posEmbedMatrix({ rows: 4, cols: 4 }, { rows: 2, cols: 2 }, 'dino');
  const out = new Float64Array(4 * 8);
  for (let t = 0; t < 4; t++) for (let s = 0; s < 16; s++) for (let d = 0; d < 8; d++) out[t * 8 + d] += M[t * 16 + s] * pos[s * 8 + d];
  assert.ok(relErr(out, ref) < 1e-6);
  // equal grids: identity (DINO returns the stored embedding unchanged)
  const I = posEmbedMatrix({ rows: 3, cols: 3 }, { rows: 3, cols: 3 });
  assert.deepEqual(Array.from(I).filter((v, i) => v !== (i % 10 === 0 ? 1 : 0)), []);
});

test('ViT specs carry timm keys and shapes (vit_small_patch16_224, num_classes=0; DINOv2-style reg4 + LayerScale)', () => {
  const small = getModel('vit-small/16');
  assert.deepEqual(asKeys(small.spec()), vitFx.timm_keys['vit-small/16']);
  assert.equal(small.spec().find((p) => p.name === 'pos_embed')!.shape[1], 197);
  const reg = getModel('vit-base/14-reg4', { vit: { layerScale: 1e-5, maskToken: true } });
  const spec = reg.spec();
  const exported = spec.filter((p) => reg.isExportKey(p.name));
  assert.deepEqual(asKeys(exported), vitFx.timm_keys['vit-base/14-reg4-ls']);
  assert.deepEqual(spec.filter((p) => !reg.isExportKey(p.name)).map((p) => p.name), ['mask_token']);
  assert.deepEqual(spec.find((p) => p.name === 'pos_embed')!.shape, [1, 256, 768]); // 16x16 grid, no class entry
});

test('ResNet specs carry torchvision keys and shapes (fc omitted), num_batches_tracked as int64 buffers', () => {
  for (const name of ['resnet18', 'resnet50']) {
    const spec = getModel(name).spec();
    assert.deepEqual(asKeys(spec), resFx.torchvision_keys[name], name);
    for (const p of spec) {
      const isBuffer = /running_|num_batches/.test(p.name);
      assert.equal(p.trainable, !isBuffer, p.name);
      assert.equal(p.dtype, p.name.endsWith('num_batches_tracked') ? 'int64' : 'float32', p.name);
    }
  }
  assert.equal(getModel('resnet18').embedDim, 512);
  assert.equal(getModel('resnet50').embedDim, 2048);
});

test('initParams: seeded, timm/torchvision initialisation statistics', () => {
  const spec = vitSpec(vitConfig('vit-small/16', { depth: 2, layerScale: 1e-5, numRegisters: 2, maskToken: true }));
  const a = initParams(spec, new Rng(7)), b = initParams(spec, new Rng(7)), c = initParams(spec, new Rng(8));
  for (const p of spec) {
    assert.equal(a.get(p.name)!.length, numelOf(p.shape));
    assert.deepEqual(a.get(p.name), b.get(p.name));
  }
  assert.notDeepEqual(a.get('blocks.0.attn.qkv.weight'), c.get('blocks.0.attn.qkv.weight'));
  const qkv = a.get('blocks.0.attn.qkv.weight')!;
  assert.ok(Math.abs(std(qkv) - 0.02) < 0.001, `qkv std ${std(qkv)}`);
  assert.ok(Math.abs(std(a.get('pos_embed')!) - 0.02) < 0.002);
  assert.ok(a.get('blocks.1.mlp.fc2.bias')!.every((v) => v === 0));
  assert.ok(a.get('blocks.1.norm2.weight')!.every((v) => v === 1));
  assert.ok(a.get('blocks.1.ls2.gamma')!.every((v) => Math.abs(v - 1e-5) < 1e-12));
  assert.ok(a.get('mask_token')!.every((v) => v === 0));
  assert.ok(std(a.get('reg_token')!) < 1e-5);
  const pw = a.get('patch_embed.proj.weight')!, bound = 1 / Math.sqrt(3 * 16 * 16);
  assert.ok(pw.every((v) => Math.abs(v) <= bound) && Math.abs(std(pw) - bound / Math.sqrt(3)) < 0.05 * bound);

  const rs = resnetSpec(resnetConfig('resnet18', { zeroInitResidual: true }));
  const r = initParams(rs, new Rng(1));
  const w = r.get('layer3.0.conv2.weight')!; // [256, 256, 3, 3]: fan_out = 256·9
  assert.ok(Math.abs(std(w) / Math.sqrt(2 / (256 * 9)) - 1) < 0.02, `conv std ${std(w)}`);
  assert.ok(r.get('layer3.0.bn1.weight')!.every((v) => v === 1) && r.get('layer3.0.bn2.weight')!.every((v) => v === 0));
  assert.ok(r.get('layer3.0.bn1.running_var')!.every((v) => v === 1));

  const hs = dinoHeadSpec(dinoHeadConfig(384, 1000));
  const h = initParams(hs, new Rng(2));
  assert.ok(h.get('dino_head.last_layer.weight_g')!.every((v) => v === 1));
  assert.ok(h.get('dino_head.last_layer.weight_v')!.every((v) => Math.abs(v) <= 1 / 16));
  assert.deepEqual(hs.map((p) => p.name).slice(0, 6), ['dino_head.mlp.0.weight', 'dino_head.mlp.0.bias', 'dino_head.mlp.2.weight', 'dino_head.mlp.2.bias', 'dino_head.mlp.4.weight', 'dino_head.mlp.4.bias']);
});

test('weight decay flags and layer-wise lr decay groups', () => {
  const spec = vitSpec(vitConfig('vit-tiny/16', { layerScale: 1 }));
  const wd = spec.filter((p) => p.weightDecay).map((p) => p.name);
  assert.ok(wd.every((n) => n.endsWith('.weight') && !/norm|gamma/.test(n)), wd.join());
  assert.ok(wd.includes('patch_embed.proj.weight') && wd.includes('blocks.11.mlp.fc2.weight'));
  const scale = (n: string) => layerDecayScale(spec.find((p) => p.name === n)!, 0.5);
  assert.equal(scale('patch_embed.proj.weight'), 0.5 ** 13);
  assert.equal(scale('cls_token'), 0.5 ** 13);
  assert.equal(scale('blocks.0.attn.qkv.weight'), 0.5 ** 12);
  assert.equal(scale('blocks.11.ls2.gamma'), 0.5);
  assert.equal(scale('norm.weight'), 1);
  assert.equal(spec.find((p) => p.name === 'patch_embed.proj.bias')!.lr.group, 'patch_embed');
  assert.equal(layerDecayScale(dinoHeadSpec(dinoHeadConfig(192, 10))[0], 0.5), 1);
});

test('registry: names, presets, UserError for unknown names', () => {
  const m = getModel('vit-small/14');
  assert.deepEqual([m.kind, m.embedDim, m.patchSize, m.defaultImageSize, m.dropPathSlots], ['vit', 384, 14, 224, 24]);
  assert.equal(getModel('vit-base/8').embedDim, 768);
  assert.equal(getModel('vit-tiny/16').config.name, 'vit-tiny/16');
  assert.ok(MODEL_NAMES.includes('vit-tiny/16') && MODEL_NAMES.includes('resnet50'));
  for (const bad of ['vit-huge/16', 'vit-small/12', 'resnet19', '']) {
    assert.throws(() => getModel(bad), (e: unknown) => e instanceof UserError && /vit-small\/16|resnet18|patch size/.test(e.message), bad);
  }
  assert.throws(() => getModel('resnet7'), (e: unknown) => e instanceof UserError && e.message.includes('vit-tiny/16') && e.message.includes('resnet50'));
});

test('registry forward: tiny ViT at 100 px (6x6 patches, remainder dropped) and tiny ResNet give [N, D] embeddings with a symbolic batch', async () => {
  const vit = getModel('vit-tiny/16', { vit: { depth: 1, embedDim: 24, numHeads: 2 } });
  const res = getModel('resnet18', { resnet: { width: 4 } });
  for (const model of [vit, res]) {
    const spec = model.spec();
    const values = initParams(spec, new Rng(3));
    const g = new Graph({ paramValues: values });
    const x = g.input('x', ['N', 3, 100, 100]);
    const o = model.forward(g, graphParams(g, spec), x, { bnMode: 'eval' });
    const outputs: Record<string, Tensor> = o.patchTokens ? { cls: o.cls, patch: o.patchTokens } : { cls: o.cls };
    const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
    for (const n of [1, 3]) {
      const r = await s.run({ x: { data: new Float32Array(n * 3 * 100 * 100).map((_, i) => Math.cos(i)), dims: [n, 3, 100, 100] } });
      assert.deepEqual(r.cls.dims, [n, model.embedDim]);
      if (o.patchTokens) assert.deepEqual(r.patch.dims, [n, 36, 24]);
      assert.ok((r.cls.data as Float32Array).every(Number.isFinite));
    }
    await s.release();
  }
});

test('drop path: DINO ramp / DINOv2 uniform rates and scaled keep masks', () => {
  assert.deepEqual(dropPathRates(3, 0.2), [0, 0.1, 0.2]);
  assert.deepEqual(dropPathRates(3, 0.2, true), [0.2, 0.2, 0.2]);
  const k = sampleKeepMask(new Rng(5), 4000, 0.25);
  assert.ok(k.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
  const mean = k.reduce((a, v) => a + v, 0) / k.length;
  assert.ok(Math.abs(mean - 1) < 0.05, `mean ${mean}`);
  assert.ok(sampleKeepMask(new Rng(5), 3, 0).every((v) => v === 1));
});
