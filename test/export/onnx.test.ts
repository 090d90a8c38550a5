// backbone.onnx: the exported file against the training graph (ViT with model_args, ResNet width 4, opsets 18
// and 17), a dynamic batch, metadata, the verification's failure path, and against PyTorch (timm-layout ViT and
// torchvision ResNet loading dinotrain's backbone.safetensors with strict key matching; see fixtures/export/).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { writeBackboneOnnx, writeBackboneSafetensors } from '../../src/export/backbone-files.js';
import { backboneOnnx } from '../../src/export/onnx.js';
import { parseSafetensors } from '../../src/formats/safetensors.js';
import { toFloat32 } from '../../src/formats/tensor-values.js';
import { ExportVerificationError, randomImages, verifyBackboneOnnx } from '../../src/export/verify.js';
import { readModelInfo } from '../../src/graph/index.js';
import type { SerializedTensor } from '../../src/models/weights.js';
import { modelOverrides } from '../../src/models/overrides.js';
import { getModel, type BackboneModel } from '../../src/models/registry.js';
import { UserError } from '../../src/util/errors.js';
import { CASES, caseImages, caseModel, caseWeights, randomBackboneWeights } from '../fixtures/export/cases.js';
import { decode, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-export-onnx-'));
const fixtures = fileURLToPath(new URL('../fixtures/export/', import.meta.url));
const opts = { method: 'dino', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

function tinyVit(): BackboneModel {
  return getModel('vit-tiny/8', modelOverrides({ embed_dim: 32, depth: 2, num_heads: 2, layer_scale: 0.1, num_registers: 1 }));
}
const tinyResNet = (): BackboneModel => getModel('resnet18', modelOverrides({ width: 4 }));

/** Random weights; BatchNorm running statistics away from 0/1 so eval mode matters. */
const randomWeights = randomBackboneWeights;

async function run(bytes: Uint8Array | string, images: Float32Array, n: number, size: number) {
  const s = await ort.InferenceSession.create(bytes as Uint8Array);
  try {
    return await s.run({ images: new ort.Tensor('float32', images, [n, 3, size, size]) });
  } finally {
    await s.release();
  }
}

for (const [label, make, size] of [['ViT (model_args, registers, LayerScale)', tinyVit, 32], ['ResNet-18 width 4', tinyResNet, 64]] as const) {
  test(`${label}: the exported file matches the training graph at opset 18 and 17`, async () => {
    const model = make();
    const w = randomWeights(model, 11);
    for (const opset of [18, 17]) {
      const bytes = backboneOnnx(model, w, { ...opts, imageSize: size, opset });
      const info = readModelInfo(bytes);
      assert.equal(info.opset, opset);
      assert.deepEqual(info.inputs, ['images']);
      assert.deepEqual(info.outputs, model.kind === 'vit' ? ['embedding', 'patch_tokens'] : ['embedding']);
      // weights are named initializers with timm / torchvision names
      for (const name of model.kind === 'vit' ? ['pos_embed', 'blocks.1.attn.qkv.weight', 'reg_token'] : ['conv1.weight', 'layer4.1.bn2.running_var']) {
        assert.ok(info.initializers.includes(name), name);
      }
      const r = await verifyBackboneOnnx(bytes, model, w, { imageSize: size, batch: 3 });
      console.log(`${label} opset ${opset}: ${r.outputs.map((d) => `${d.name} max abs diff ${d.maxAbsDiff.toExponential(2)} rel ${d.relDiff.toExponential(2)}`).join(', ')}`);
      assert.ok(r.relDiff < 1e-5, `relative diff ${r.relDiff}`);
      assert.deepEqual(r.outputs[0].dims, [3, model.embedDim]);
      if (model.kind === 'vit') assert.deepEqual(r.outputs[1].dims, [3, (size / 8) ** 2, 32]);
    }
  });
}

test('metadata props describe the preprocessing', () => {
  const model = tinyVit();
  const bytes = backboneOnnx(model, randomWeights(model, 1), { ...opts, imageSize: 32, part: 'teacher', modelArgs: { embed_dim: 32 } });
  const m = readModelInfo(bytes).metadata;
  assert.equal(m.method, 'dino');
  assert.equal(m.model, 'vit-tiny/8');
  assert.equal(m.image_size, '32');
  assert.equal(m.patch_size, '8');
  assert.deepEqual(JSON.parse(m.mean), opts.mean);
  assert.deepEqual(JSON.parse(m.std), opts.std);
  assert.match(m.dinotrain_version, /^\d+\.\d+\.\d+/);
  assert.equal(m.part, 'teacher');
  assert.deepEqual(JSON.parse(m.model_args), { embed_dim: 32 });
});

test('opset 17 writes Reduce axes as attributes and Split without num_outputs', () => {
  const resnet = tinyResNet();
  const vit = tinyVit();
  const r17 = decodeNodes(backboneOnnx(resnet, randomWeights(resnet, 2), { ...opts, imageSize: 32, opset: 17 }));
  const v17 = decodeNodes(backboneOnnx(vit, randomWeights(vit, 2), { ...opts, imageSize: 32, opset: 17 }));
  const r18 = decodeNodes(backboneOnnx(resnet, randomWeights(resnet, 2), { ...opts, imageSize: 32, opset: 18 }));
  const reduce = (nodes: ReturnType<typeof decodeNodes>) => nodes.filter((n) => n.opType === 'ReduceMean');
  assert.equal(reduce(r18)[0].input.length, 2);
  assert.ok(reduce(r17).length > 0);
  for (const n of reduce(r17)) {
    assert.equal(n.input.length, 1);
    assert.deepEqual(n.attribute.find((a) => a.name === 'axes')?.ints?.map(Number), [2, 3]);
  }
  const splits = v17.filter((n) => n.opType === 'Split');
  assert.ok(splits.length > 0);
  for (const n of splits) assert.ok(!n.attribute.some((a) => a.name === 'num_outputs'));
  assert.throws(() => backboneOnnx(vit, randomWeights(vit, 2), { ...opts, imageSize: 32, opset: 16 }), (e: unknown) => e instanceof UserError && /--opset 16/.test(e.message));
});

test('one dynamic-batch file runs batch 1 and 3; --no-dynamic-batch fixes the batch', async () => {
  const model = tinyVit();
  const w = randomWeights(model, 5);
  const path = join(tmp, 'dyn.onnx');
  await writeBackboneOnnx(path, model, { model: model.name, tensors: w }, { ...opts, imageSize: 32 });
  const x = randomImages(3, 32, 9);
  const three = await run(path, x, 3, 32);
  assert.deepEqual(three.embedding.dims, [3, 32]);
  assert.deepEqual(three.patch_tokens.dims, [3, 16, 32]);
  for (let i = 0; i < 3; i++) {
    const one = await run(path, x.slice(i * 3 * 32 * 32, (i + 1) * 3 * 32 * 32), 1, 32);
    assert.deepEqual(one.embedding.dims, [1, 32]);
    const row = (three.embedding.data as Float32Array).subarray(i * 32, (i + 1) * 32);
    assert.ok(relErr(one.embedding.data as Float32Array, row) < 1e-5);
  }
  const fixed = join(tmp, 'fixed.onnx');
  const report = await writeBackboneOnnx(fixed, model, { model: model.name, tensors: w }, { ...opts, imageSize: 32, dynamicBatch: false, batchSize: 3 });
  assert.equal(report!.batch, 3);
  assert.deepEqual((await run(fixed, x, 3, 32)).embedding.dims, [3, 32]);
  await assert.rejects(run(fixed, x.subarray(0, 3 * 32 * 32), 1, 32), /dimension|Got invalid dimensions|index: 0/i);
});

test('verification fails (exit 1) when the file does not compute the training graph', async () => {
  const model = tinyResNet();
  const w = randomWeights(model, 3);
  const bytes = backboneOnnx(model, w, { ...opts, imageSize: 32 });
  // the same architecture with other BatchNorm running statistics: what a wrong initializer would look like
  const other = new Map(w);
  const rv = w.get('layer2.0.bn1.running_var')!;
  other.set('layer2.0.bn1.running_var', { shape: rv.shape, data: rv.data.map((v) => v * 4) });
  const err = await verifyBackboneOnnx(bytes, model, other, { imageSize: 32 }).catch((e) => e);
  assert.ok(err instanceof ExportVerificationError, String(err));
  assert.equal(err.exitCode, 1);
  assert.match(err.message, /embedding max abs diff .* \(relative .*\)/);
});

test('ViT image size that is not a multiple of the patch size is a UserError', () => {
  const model = tinyVit();
  assert.throws(() => backboneOnnx(model, randomWeights(model, 1), { ...opts, imageSize: 36 }), (e: unknown) => e instanceof UserError && /36 is not a multiple of vit-tiny\/8's patch size 8 \(nearest: 32 or 40\)/.test(e.message));
});

const reference = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8')) as {
  cases: Record<string, { embedding: FixtureTensor; patch_tokens?: FixtureTensor }>;
};

for (const c of CASES) {
  test(`PyTorch fixture ${c.name}: dinotrain's backbone.safetensors loads strictly into ${c.model.startsWith('vit') ? 'a timm-layout ViT' : 'torchvision ResNet'} and the ONNX export computes the same`, async () => {
    const model = caseModel(c);
    const weights = caseWeights(c);
    // the committed file is what the exporter writes today (names, order, dtypes, bytes; metadata aside)
    const path = join(tmp, `${c.name}.safetensors`);
    await writeBackboneSafetensors(path, model, { model: model.name, tensors: weights }, 'fixture');
    const fresh = parseSafetensors(readFileSync(path));
    const committed = parseSafetensors(readFileSync(join(fixtures, `${c.name}.safetensors`)));
    assert.deepEqual([...fresh.tensors.keys()], [...committed.tensors.keys()]);
    for (const [name, t] of committed.tensors) {
      const f = fresh.tensors.get(name)!;
      assert.equal(f.dtype, t.dtype, name);
      assert.deepEqual(f.shape, t.shape, name);
      assert.deepEqual(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), name);
    }
    if (model.kind === 'resnet') assert.equal(committed.tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');

    // ONNX export of the committed file's tensors vs PyTorch's eval-mode forward of the same file
    const loaded = new Map<string, SerializedTensor>([...committed.tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t)! }]));
    const ref = reference.cases[c.name];
    for (const opset of [18, 17]) {
      const out = await run(backboneOnnx(model, loaded, { ...opts, imageSize: c.imageSize, opset }), caseImages(c), c.batch, c.imageSize);
      for (const [name, t] of [['embedding', ref.embedding], ['patch_tokens', ref.patch_tokens]] as const) {
        if (!t) continue;
        const want = decode(t);
        assert.deepEqual(out[name].dims, want.shape);
        const got = out[name].data as Float32Array;
        let maxAbs = 0;
        for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want.data[i]));
        const rel = relErr(got, want.data);
        if (opset === 18) console.log(`${c.name} ${name} vs PyTorch: max abs diff ${maxAbs.toExponential(2)}, relative ${rel.toExponential(2)}`);
        assert.ok(rel < 1e-4, `${c.name} ${name} opset ${opset}: relative ${rel}`);
      }
    }
  });
}

// ---------------------------------------------------------------- helpers

function decodeNodes(bytes: Uint8Array) {
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  return (m.graph?.node ?? []).map((n) => ({ opType: n.opType ?? '', input: n.input ?? [], attribute: n.attribute ?? [] }));
}
