// The distillation teacher: its contract read from the file (shapes from the protobuf against ONNX Runtime's own
// reading, outputs and preprocessing resolved), and its features against the model run directly by ONNX Runtime
// on the input prepared by hand — renormalised and resized with PIL's bilinear weights for a 2x reduction.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readOnnxIo } from '../../src/formats/onnx-io.js';
import { distillationArgs } from '../../src/methods/distillation/index.js';
import { normalizeRows, Teacher } from '../../src/methods/distillation/teacher.js';
import { teacherSpec, type Rgb } from '../../src/methods/distillation/teacher-spec.js';
import { Rng } from '../../src/util/rng.js';
import { fileURLToPath } from 'node:url';
import { decode } from '../fixtures/models/fixture.js';
import { BATCH, sinImages } from '../fixtures/pytorch/cases.js';
import { timmReference } from '../fixtures/pytorch/outputs.js';
import { maxRelDiff } from '../helpers/compare.js';
import { writeDinotrainTeacher, writeForeignTeacher } from '../helpers/teacher-onnx.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-teacher-'));
const IMAGENET = { mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number] };
const args = (o: Record<string, unknown>) => distillationArgs.parse(o);
const session = { providers: ['cpu'], threads: 1 };

function randomViews(n: number, size: number, seed = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * 3 * size * size }, () => rng.normal());
}

/** PIL's bilinear reduction by 2 along one axis: taps [1, 3, 3, 1]/8 around each output, renormalised at the edges. */
function halve(src: Float32Array, n: number, size: number): Float32Array {
  const out = new Float32Array(n * 3 * (size / 2) * (size / 2));
  const h = size / 2;
  const tap = (i: number) => [[2 * i - 1, 1], [2 * i, 3], [2 * i + 1, 3], [2 * i + 2, 1]].filter(([x]) => x >= 0 && x < size);
  for (let p = 0; p < n * 3; p++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < h; x++) {
        let s = 0, wsum = 0;
        for (const [yy, wy] of tap(y)) for (const [xx, wx] of tap(x)) {
          s += wy * wx * src[p * size * size + yy * size + xx];
          wsum += wy * wx;
        }
        out[p * h * h + y * h + x] = s / wsum;
      }
    }
  }
  return out;
}

test('the ONNX header reader gives the inputs and outputs ONNX Runtime sees', async () => {
  const path = writeDinotrainTeacher(join(tmp, 'io.onnx'));
  const io = readOnnxIo(readFileSync(path));
  const s = await ort.InferenceSession.create(path);
  const ortShape = (m: readonly ort.InferenceSession.ValueMetadata[]) => m.map((v) => ({ name: v.name, shape: v.isTensor ? [...v.shape] : undefined }));
  assert.deepEqual(io.inputs, ortShape(s.inputMetadata));
  assert.deepEqual(io.outputs, ortShape(s.outputMetadata));
  assert.deepEqual(io.outputs.map((o) => o.shape), [['N', 32], ['N', 16, 32]]);
  await s.release();
});

test("a dinotrain teacher: preprocessing from its metadata; features equal the model's on the renormalised, resized views", async () => {
  const path = writeDinotrainTeacher(join(tmp, 'half.onnx'), { imageSize: 16, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
  const spec = teacherSpec(args({ teacher: path }), 32);
  assert.deepEqual(spec.size, [16, 16]);
  assert.deepEqual(spec.mean, [0.5, 0.5, 0.5]);
  assert.equal(spec.global!.name, 'embedding');
  assert.deepEqual(spec.dense, { name: 'patch_tokens', dim: 32, layout: 'tokens' });
  assert.deepEqual(spec.notes, []);
  const teacher = await Teacher.open(spec, 32, IMAGENET, session);
  assert.deepEqual(teacher.grid, { rows: 2, cols: 2 });
  const n = 3;
  const views = randomViews(n, 32);
  const f = await teacher.features(views, n, 32);

  const pixels = views.map((v, i) => { const c = Math.floor(i / 1024) % 3; return (v * IMAGENET.std[c] + IMAGENET.mean[c] - 0.5) / 0.25; });
  const s = await ort.InferenceSession.create(path);
  const direct = await s.run({ images: new ort.Tensor('float32', halve(pixels, n, 32), [n, 3, 16, 16]) });
  await s.release();
  assert.ok(maxRelDiff(f.global!, normalizeRows(Float32Array.from(direct.embedding.data as Float32Array), 32)) < 1e-5);
  assert.ok(maxRelDiff(f.dense!, normalizeRows(Float32Array.from(direct.patch_tokens.data as Float32Array), 32)) < 1e-5);
  await teacher.release();
});

test('a teacher with a fixed batch runs in chunks and gives what the dynamic one gives', async () => {
  const dynamic = await Teacher.open(teacherSpec(args({ teacher: writeDinotrainTeacher(join(tmp, 'dyn.onnx')) }), 32), 32, IMAGENET, session);
  const fixedSpec = teacherSpec(args({ teacher: writeDinotrainTeacher(join(tmp, 'fixed.onnx'), { batch: 2 }) }), 32);
  assert.equal(fixedSpec.fixedBatch, 2);
  const fixed = await Teacher.open(fixedSpec, 32, IMAGENET, session);
  const views = randomViews(5, 32, 2);
  const a = await dynamic.features(views, 5, 32);
  const b = await fixed.features(views, 5, 32);
  assert.ok(maxRelDiff(a.global!, b.global!) < 1e-6);
  assert.ok(maxRelDiff(a.dense!, b.dense!) < 1e-6);
  await dynamic.release();
  await fixed.release();
});

test('a foreign teacher: its only outputs of each rank taken (and said so), the class token dropped, ImageNet statistics assumed', async () => {
  const path = writeForeignTeacher(join(tmp, 'foreign.onnx'));
  const auto = teacherSpec(args({ teacher: path }), 32);
  assert.deepEqual([auto.global!.name, auto.dense!.name], ['pooler_output', 'last_hidden_state']);
  assert.ok(auto.notes.some((n) => /teacher dense features: output last_hidden_state \[N, 17, 12\]/.test(n)), auto.notes.join('; '));
  const spec = teacherSpec(args({ teacher: path, teacher_outputs: { global: 'pooler_output', dense: 'last_hidden_state' } }), 32);
  assert.ok(!spec.notes.some((n) => /features: output/.test(n)));
  assert.equal(spec.input, 'pixel_values');
  assert.ok(spec.notes.some((n) => /teacher mean: ImageNet's/.test(n)), spec.notes.join('; '));
  const teacher = await Teacher.open(spec, 32, IMAGENET, session);
  assert.deepEqual(teacher.grid, { rows: 4, cols: 4 });
  const views = randomViews(2, 32, 3);
  const f = await teacher.features(views, 2, 32);
  const s = await ort.InferenceSession.create(path);
  const direct = await s.run({ pixel_values: new ort.Tensor('float32', views, [2, 3, 32, 32]) });
  await s.release();
  const tokens = direct.last_hidden_state.data as Float32Array;
  const patches = new Float32Array(2 * 16 * 12);
  for (let i = 0; i < 2; i++) patches.set(tokens.subarray((i * 17 + 1) * 12, (i * 17 + 17) * 12), i * 16 * 12);
  assert.ok(maxRelDiff(f.dense!, normalizeRows(patches, 12)) < 1e-6);
  assert.ok(maxRelDiff(f.global!, normalizeRows(Float32Array.from(direct.pooler_output.data as Float32Array), 12)) < 1e-6);
  await teacher.release();
});

test('teacher errors are one line that names the file and the setting', () => {
  assert.throws(() => teacherSpec(args({}), 32), /needs a teacher: --teacher MODEL\.onnx/);
  assert.throws(() => teacherSpec(args({ teacher: join(tmp, 'missing.onnx') }), 32), /--teacher .*missing\.onnx: no such file/);
  assert.throws(() => teacherSpec(args({ teacher: tmp }), 32), /is a folder/);
  const notOnnx = join(tmp, 'notes.onnx');
  writeFileSync(notOnnx, 'not a model');
  assert.throws(() => teacherSpec(args({ teacher: notOnnx }), 32), /not an ONNX model/);
  const st = join(tmp, 'weights.safetensors');
  writeFileSync(st, Buffer.alloc(16));
  assert.throws(() => teacherSpec(args({ teacher: st }), 32), /needs its architecture: --teacher-model/);
  const resnet = writeDinotrainTeacher(join(tmp, 'resnet.onnx'), { model: 'resnet18', modelArgs: { width: 4 } });
  assert.throws(() => teacherSpec(args({ teacher: resnet }), 32), (e: Error) => {
    assert.match(e.message, /no output 'patch_tokens' for the dense features \(outputs: embedding \[N, 32\]\)/);
    assert.match(e.message, /method_args\.teacher_outputs\.dense, or train on the global features alone \(method_args\.variant: global\)/);
    return true;
  });
  assert.equal(teacherSpec(args({ teacher: resnet, variant: 'global' }), 32).global!.dim, 32);
  assert.throws(() => teacherSpec(args({ teacher: resnet, teacher_model: 'vit-base/14' }), 32), /--teacher-model is for a \.safetensors teacher/);
  assert.throws(() => teacherSpec(args({ teacher: resnet, teacher_outputs: { global: 'logits' } , variant: 'global' }), 32), /no output 'logits' for the global features/);
  const fixed = writeDinotrainTeacher(join(tmp, 'fixed48.onnx'), { imageSize: 48 });
  assert.throws(() => teacherSpec(args({ teacher: fixed, teacher_image_size: 32 }), 32), /input is fixed at 48x48 px/);
});

test("a safetensors teacher (timm's DINOv2 layout: 518 px grid, LayerScale) computes timm's DINOv2 at 224 px", async () => {
  const file = fileURLToPath(new URL('../fixtures/pytorch/timm-dinov2.safetensors', import.meta.url));
  const ref = timmReference().timm_dinov2['timm-dinov2.safetensors'].at_224;
  const plain = { mean: [0, 0, 0] as Rgb, std: [1, 1, 1] as Rgb };
  const spec = teacherSpec(args({
    teacher: file, teacher_model: 'vit-small/14', teacher_model_args: { embed_dim: 8, depth: 2, num_heads: 2 },
    teacher_image_size: 224, teacher_mean: plain.mean, teacher_std: plain.std,
  }), 224);
  assert.deepEqual([spec.global!.dim, spec.dense!.dim, spec.size[0]], [8, 8, 224]);
  const teacher = await Teacher.open(spec, 224, plain, session);
  assert.deepEqual(teacher.grid, { rows: 16, cols: 16 });
  const f = await teacher.features(sinImages(224, BATCH), BATCH, 224);
  await teacher.release();
  assert.ok(maxRelDiff(f.global!, normalizeRows(Float32Array.from(decode(ref.embedding).data), 8)) < 1e-4);
  assert.ok(maxRelDiff(f.dense!, normalizeRows(Float32Array.from(decode(ref.patch_tokens).data), 8)) < 1e-4);
});
