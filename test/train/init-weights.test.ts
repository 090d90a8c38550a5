// applyInitWeights (pretrain --init-weights): a backbone file with timm/torchvision names starts student and
// teacher; extra keys are ignored with a warning listing them; a missing or mis-shaped key is a UserError naming it.
// ViT files: timm's DINOv2 layout (fixtures/pytorch/make_timm.py) and exports for another size have their pos_embed
// resampled; LayerScale and registers come from the file's keys or a one-line error says what to set.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import { writeBackboneSafetensors } from '../../src/export/backbone-files.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../../src/formats/safetensors.js';
import type { Dino } from '../../src/methods/dino/dino.js';
import { createMethod } from '../helpers/methods.js';
import { applyInitWeights } from '../../src/train/init-weights.js';
import { UserError } from '../../src/util/errors.js';
import { randomBackboneWeights } from '../fixtures/export/cases.js';
import { maxAbsDiff, onnxOutputs, timmReference } from '../fixtures/pytorch/outputs.js';
import { resamplePosEmbed } from '../../src/models/pos-embed-values.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-init-weights-'));
const base = readConfigFile('test/fixtures/tiny-dino.yaml');

function dino(overrides: Record<string, unknown> = {}) {
  const cfg = resolvePretrainConfig({ ...base, ...overrides }, { data: 'examples/images', out: join(tmp, 'out') });
  return createMethod<Dino>(cfg);
}

test('ResNet: a torchvision-style file (with fc.* and int64 num_batches_tracked) starts student and teacher', async () => {
  const d = dino({ model: 'resnet18', model_args: { width: 4 } });
  const weights = randomBackboneWeights(d.model, 21); // running stats not 0/1, num_batches_tracked 7
  const path = join(tmp, 'resnet.safetensors');
  await writeBackboneSafetensors(path, d.model, { model: d.model.name, tensors: weights }, 'test');
  // add a classifier as torchvision's state_dict has it
  const file = await readSafetensors(path);
  const withFc = new Map<string, TensorInput>([...file.tensors]);
  withFc.set('fc.weight', { shape: [10, 32], data: new Float32Array(320) });
  withFc.set('fc.bias', { shape: [10], data: new Float32Array(10) });
  const path2 = join(tmp, 'resnet-fc.safetensors');
  await writeSafetensors(path2, withFc);

  const warnings: string[] = [];
  const r = await applyInitWeights(d, path2, (m) => warnings.push(m));
  assert.equal(r.loaded, weights.size);
  assert.deepEqual(r.ignored, ['fc.bias', 'fc.weight']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ignoring 2 tensor\(s\) that are not part of the resnet18 backbone: fc\.bias, fc\.weight/);
  for (const part of ['student', 'teacher'] as const) {
    const b = d.backbone(part).tensors;
    for (const [k, t] of weights) assert.deepEqual(b.get(k)!.data, t.data, `${part} ${k}`);
    assert.equal(b.get('layer1.0.bn1.num_batches_tracked')!.data[0], 7);
  }
  // the optimizer's flat buffer is what changed (params are views into it)
  const conv = d.params.get('conv1.weight');
  assert.deepEqual(conv, weights.get('conv1.weight')!.data);
});

test('a missing or mis-shaped backbone tensor is a UserError naming it; nothing is loaded', async () => {
  const d = dino();
  const weights = randomBackboneWeights(d.model, 5);
  const before = Float32Array.from(d.student.value('blocks.0.attn.qkv.weight'));
  const missing = new Map<string, TensorInput>([...weights].filter(([k]) => k !== 'blocks.1.mlp.fc2.bias'));
  await writeSafetensors(join(tmp, 'missing.safetensors'), missing);
  await assert.rejects(applyInitWeights(d, join(tmp, 'missing.safetensors')), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /'blocks\.1\.mlp\.fc2\.bias' is missing/);
    return true;
  });
  const misShaped = new Map<string, TensorInput>([...weights]);
  misShaped.set('norm.weight', { shape: [31], data: new Float32Array(31) });
  await writeSafetensors(join(tmp, 'mis-shaped.safetensors'), misShaped);
  await assert.rejects(applyInitWeights(d, join(tmp, 'mis-shaped.safetensors')), /'norm\.weight' has shape \[31\], vit-tiny\/8 needs \[32\]/);
  const noGrid = new Map<string, TensorInput>([...weights]);
  noGrid.set('pos_embed', { shape: [1, 20, 32], data: new Float32Array(20 * 32) });
  await writeSafetensors(join(tmp, 'no-grid.safetensors'), noGrid);
  await assert.rejects(applyInitWeights(d, join(tmp, 'no-grid.safetensors')), /pos_embed \[1,20,32\] holds no square patch grid/);
  await assert.rejects(applyInitWeights(d, join(tmp, 'absent.safetensors')), (e: unknown) => e instanceof UserError && /absent\.safetensors does not exist/.test(e.message));
  assert.deepEqual(d.student.value('blocks.0.attn.qkv.weight'), before);
  assert.deepEqual(d.teacher.value('blocks.0.attn.qkv.weight'), before);
});

// ---------------------------------------------------------------- ViT files of another grid or architecture

const timm = timmReference();
const timmFile = (name: string) => fileURLToPath(new URL(`../fixtures/pytorch/${name}`, import.meta.url));
const dinov2Base = readConfigFile('test/fixtures/dinov2/tiny-dinov2.yaml');
const narrow = { embed_dim: 8, depth: 2, num_heads: 2 };

/** A method for a ViT/14 (views that tile into 14 px patches). */
function vit14(method: 'dino' | 'dinov2', model: string, modelArgs: Record<string, unknown> = narrow) {
  const file = method === 'dino' ? base : dinov2Base;
  const transforms = { global: { size: 28, count: 2 }, local: { size: 14, count: 2 } };
  const cfg = resolvePretrainConfig({ ...file, model, model_args: modelArgs, transforms }, { data: 'examples/images', out: join(tmp, 'out') });
  return createMethod(cfg);
}

for (const [file, model] of [['timm-dinov2.safetensors', 'vit-small/14'], ['timm-dinov2-reg4.safetensors', 'vit-small/14-reg4']]) {
  test(`timm's DINOv2 layout (${timm.timm_dinov2[file].timm_model}, 518 px grid, LayerScale) starts a DINOv2 ${model}: the DINOv2 reference's function at 224 px`, async () => {
    const d = vit14('dinov2', model);
    const warnings: string[] = [];
    const r = await applyInitWeights(d, timmFile(file), (m) => warnings.push(m));
    assert.deepEqual(r.ignored, []);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /pos_embed resampled from a 37x37 to a 16x16 patch grid/);
    const loaded = d.backbone('teacher').tensors;
    const source = await readSafetensors(timmFile(file));
    assert.deepEqual(source.tensors.get('pos_embed')!.shape, timm.timm_dinov2[file].pos_embed);
    assert.deepEqual(loaded.get('blocks.1.ls2.gamma')!.data, source.tensors.get('blocks.1.ls2.gamma')!.data);
    const diff = maxAbsDiff(await onnxOutputs(d.model, loaded, 224), timm.timm_dinov2[file].at_224);
    console.log(`${file} via --init-weights, at 224 px vs timm with the DINOv2 interpolation: max abs diff ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, String(diff));
  });
}

test("LayerScale or registers the model lacks are a one-line UserError with the fix; LayerScale the file lacks starts at 1", async () => {
  await assert.rejects(applyInitWeights(vit14('dino', 'vit-small/14'), timmFile('timm-dinov2.safetensors')), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /has LayerScale \(blocks\.N\.ls1\.gamma \/ ls2\.gamma\) and vit-small\/14 here has none: add model_args: \{ layer_scale: 1e-5 \} to the --config file/);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
  await assert.rejects(
    applyInitWeights(vit14('dinov2', 'vit-small/14'), timmFile('timm-dinov2-reg4.safetensors')),
    /holds a ViT with patch size 14, embed dim 8, depth 2, 4 register tokens, LayerScale; vit-small\/14 here has .*no register tokens.*: use --model vit-small\/14-reg4 with model_args: \{ embed_dim: 8, depth: 2, num_heads: <the file's> \}/,
  );
  await assert.rejects(applyInitWeights(vit14('dinov2', 'vit-small/16'), timmFile('timm-dinov2.safetensors')), /patch size 14.*use --model vit-small\/14 with/);

  // a DINO export (no LayerScale) into DINOv2 (LayerScale): gammas of 1, the same function as the file's model
  const fromDino = vit14('dino', 'vit-small/14');
  const path = join(tmp, 'dino-vit14.safetensors');
  const weights = randomBackboneWeights(fromDino.model, 8);
  await writeBackboneSafetensors(path, fromDino.model, { model: fromDino.model.name, tensors: weights }, 'dino');
  const d = vit14('dinov2', 'vit-small/14');
  const warnings: string[] = [];
  await applyInitWeights(d, path, (m) => warnings.push(m));
  assert.match(warnings.join('\n'), /has no LayerScale: vit-small\/14's LayerScale gammas start at 1 \(the same function\)/);
  const loaded = d.backbone('student').tensors;
  assert.deepEqual(Array.from(new Set(loaded.get('blocks.0.ls1.gamma')!.data)), [1]);
  const diff = maxAbsDiff(await onnxOutputs(d.model, loaded, 56), await onnxOutputs(fromDino.model, weights, 56));
  assert.ok(diff <= 1e-5, String(diff));
});

test("a dinotrain export for a smaller image size: pos_embed resampled back to the stored grid", async () => {
  const d = dino();
  const weights = randomBackboneWeights(d.model, 9);
  const path = join(tmp, 'at-32.safetensors');
  await writeBackboneSafetensors(path, d.model, { model: d.model.name, tensors: weights }, 'dino', { imageSize: 32 });
  assert.deepEqual((await readSafetensors(path)).tensors.get('pos_embed')!.shape, [1, 17, 32]);
  const warnings: string[] = [];
  await applyInitWeights(d, path, (m) => warnings.push(m));
  assert.match(warnings.join('\n'), /pos_embed resampled from a 4x4 to a 28x28 patch grid/);
  const file = await readSafetensors(path);
  const want = resamplePosEmbed(file.tensors.get('pos_embed')!.data as Float32Array, 32, 1, { rows: 4, cols: 4 }, { rows: 28, cols: 28 }, 'dino');
  assert.deepEqual(d.backbone('teacher').tensors.get('pos_embed')!.data, want);
});
