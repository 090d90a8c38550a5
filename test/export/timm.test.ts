// Exports against timm (fixtures/pytorch/make_timm.py): the safetensors written for the training size loads strictly
// into the timm model its metadata names and computes there what dinotrain's ONNX computes; the stored weights in timm
// with docs/pytorch.md's pos_embed rule match dinotrain at every size; DINOv2's default model has exactly the keys of
// timm.create_model("vit_small_patch14_dinov2", num_classes=0, img_size=224).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolvePretrainConfig } from '../../src/config/load.js';
import { writeBackboneSafetensors } from '../../src/export/backbone-files.js';
import { timmRecipe } from '../../src/export/pytorch-recipe.js';
import { parseSafetensors } from '../../src/formats/safetensors.js';
import { toFloat32 } from '../../src/formats/tensor-values.js';
import { dinov2 } from '../../src/methods/dinov2/index.js';
import type { VitConfig } from '../../src/models/vit-config.js';
import { TIMM_CASES, timmCaseModel, timmCaseWeights } from '../fixtures/pytorch/cases.js';
import { keysDigest, recipeCases, recipeModel } from '../fixtures/pytorch/recipes.js';
import { maxAbsDiff, onnxOutputs, timmReference } from '../fixtures/pytorch/outputs.js';

const fixtures = fileURLToPath(new URL('../fixtures/pytorch/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'dt-timm-'));

const reference = timmReference();

const tensorsOf = (bytes: Uint8Array) => {
  const f = parseSafetensors(bytes);
  return { metadata: f.metadata, tensors: new Map([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t)! }])) };
};

for (const c of TIMM_CASES) {
  const model = timmCaseModel(c);
  const ref = reference.cases[c.name];

  test(`${c.name}: the export for ${c.trainSize} px is what timm loads strictly (${ref.timm_model}) and computes what dinotrain computes`, async () => {
    const path = join(tmp, `${c.name}.safetensors`);
    await writeBackboneSafetensors(path, model, { model: model.name, tensors: timmCaseWeights(c) }, 'fixture', { imageSize: c.trainSize });
    const fresh = tensorsOf(readFileSync(path));
    const committed = tensorsOf(readFileSync(join(fixtures, `${c.name}-${c.trainSize}.safetensors`)));
    assert.deepEqual([...fresh.tensors.keys()], [...committed.tensors.keys()]);
    for (const [k, t] of committed.tensors) assert.deepEqual(fresh.tensors.get(k), t, k);
    const grid = c.trainSize / model.patchSize!;
    const prefix = (model.config as VitConfig).numRegisters > 0 ? 0 : 1;
    assert.deepEqual(fresh.tensors.get('pos_embed')!.shape, [1, prefix + grid * grid, model.embedDim]);
    assert.equal(fresh.metadata.image_size, String(c.trainSize));
    assert.equal(fresh.metadata.stored_image_size, '224');
    assert.equal(fresh.metadata.timm_model, ref.timm_model);
    assert.deepEqual(JSON.parse(fresh.metadata.timm_kwargs), ref.timm_kwargs);
    assert.equal(ref.timm_kwargs.img_size, c.trainSize);

    const stored = tensorsOf(readFileSync(join(fixtures, `${c.name}-stored.safetensors`))).tensors;
    const ours = await onnxOutputs(model, stored, c.trainSize);
    const strict = maxAbsDiff(ours, ref.at_train_size);
    const timmOwn = maxAbsDiff(ours, ref.timm_own_resize);
    console.log(`${c.name} at ${c.trainSize} px: timm strict load of the export, max abs diff ${strict.toExponential(2)}; timm's own pos_embed resize of the stored grid ${timmOwn.toExponential(2)}`);
    assert.ok(strict <= 1e-4, `timm with the export: ${strict}`);
    assert.ok(timmOwn > 1e-3, "timm's own resize is another function (why the export resamples)");
  });

  test(`${c.name}: docs/pytorch.md's pos_embed rule in timm matches dinotrain at ${c.sizes.join(', ')} px`, async () => {
    const stored = tensorsOf(readFileSync(join(fixtures, `${c.name}-stored.safetensors`))).tensors;
    for (const size of c.sizes) {
      const d = maxAbsDiff(await onnxOutputs(model, stored, size), ref.dinotrain_rule[String(size)]);
      console.log(`${c.name} at ${size} px: max abs diff ${d.toExponential(2)}`);
      assert.ok(d <= 1e-4, `${size} px: ${d}`);
    }
  });
}

test('the python in docs/pytorch.md is the code make_timm.py ran', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/pytorch.md', import.meta.url)), 'utf8');
  const code = readFileSync(join(fixtures, 'dinotrain_timm.py'), 'utf8').trim();
  assert.ok(doc.includes(code), 'docs/pytorch.md holds fixtures/pytorch/dinotrain_timm.py verbatim');
});

test('DINOv2: the default model has LayerScale and exactly the keys and shapes of timm vit_small_patch14_dinov2 at img_size=224', () => {
  for (const [model, name] of [['vit-small/14', 'vit_small_patch14_dinov2'], ['vit-small/14-reg4', 'vit_small_patch14_reg4_dinov2']]) {
    const backbone = dinov2.model(resolvePretrainConfig({}, { data: 'd', out: 'o', method: 'dinov2', model }));
    assert.equal((backbone.config as VitConfig).layerScale, 1e-5);
    const ours = Object.fromEntries(backbone.spec().filter((p) => backbone.isExportKey(p.name)).map((p) => [p.name, p.shape]));
    assert.deepEqual(ours, reference.dinov2_keys[name], model);
    assert.deepEqual(timmRecipe(backbone.config as VitConfig, 224), { name, kwargs: { num_classes: 0, img_size: 224 } });
  }
});

test('every ViT preset, with or without LayerScale and registers: the timm recipe in the metadata builds exactly its keys and shapes', () => {
  const cases = recipeCases();
  assert.deepEqual(JSON.parse(JSON.stringify(cases)), JSON.parse(readFileSync(join(fixtures, 'recipes.json'), 'utf8')));
  assert.equal(reference.recipes.length, cases.length);
  cases.forEach((c, i) => {
    const r = reference.recipes[i];
    assert.deepEqual([r.model, r.layerScale ?? undefined], [c.model, c.layerScale]);
    const model = recipeModel(c);
    const digest = keysDigest(model.spec().filter((p) => model.isExportKey(p.name)).map((p) => [p.name, p.shape]));
    assert.equal(digest, r.digest, `${c.model}${c.layerScale ? ' with LayerScale' : ''}: timm.create_model(${JSON.stringify(c.recipe)})`);
  });
});
