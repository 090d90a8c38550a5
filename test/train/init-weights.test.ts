// applyInitWeights (pretrain --init-weights): a backbone file with timm/torchvision names starts student and
// teacher; extra keys are ignored with a warning listing them; a missing or mis-shaped key is a UserError naming it.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import { writeBackboneSafetensors } from '../../src/export/backbone-files.js';
import { readSafetensors, writeSafetensors, type TensorInput } from '../../src/formats/safetensors.js';
import type { Dino } from '../../src/methods/dino/dino.js';
import { createMethod } from '../helpers/methods.js';
import { applyInitWeights } from '../../src/train/init-weights.js';
import { UserError } from '../../src/util/errors.js';
import { randomBackboneWeights } from '../fixtures/export/cases.js';

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
  misShaped.set('pos_embed', { shape: [1, 17, 32], data: new Float32Array(17 * 32) });
  await writeSafetensors(join(tmp, 'mis-shaped.safetensors'), misShaped);
  await assert.rejects(applyInitWeights(d, join(tmp, 'mis-shaped.safetensors')), /'pos_embed' has shape \[1,17,32\], vit-tiny\/8 needs \[1,785,32\]/);
  await assert.rejects(applyInitWeights(d, join(tmp, 'absent.safetensors')), (e: unknown) => e instanceof UserError && /absent\.safetensors does not exist/.test(e.message));
  assert.deepEqual(d.student.value('blocks.0.attn.qkv.weight'), before);
  assert.deepEqual(d.teacher.value('blocks.0.attn.qkv.weight'), before);
});
