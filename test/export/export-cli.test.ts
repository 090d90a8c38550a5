// `dinotrain export` on a checkpoint of a real (2-step) DINO run: ONNX (teacher by default) equal to the training
// graph's forward of the checkpoint's weights; safetensors for the training size (pos_embed resampled: the same
// function there) or, at the stored size, equal to the checkpoint's tensors and loadable with --init-weights; clear
// errors for bad input.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import { buildBackboneGraph } from '../../src/export/backbone-graph.js';
import { exportCheckpoint } from '../../src/export/export-checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.js';
import { randomImages } from '../../src/export/verify.js';
import { Session, readModelInfo, toBytes } from '../../src/graph/index.js';
import type { Dino } from '../../src/methods/dino/dino.js';
import { createMethod } from '../helpers/methods.js';
import { modelOverrides } from '../../src/models/overrides.js';
import { getModel } from '../../src/models/registry.js';
import { applyInitWeights } from '../../src/train/init-weights.js';
import { UserError } from '../../src/util/errors.js';

const runExportCli = (args: string[]) => runCli(['export', ...args]);
import { relErr } from '../fixtures/models/fixture.js';
import { runCli, tinyDinoArgs } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-export-cli-'));
const run = join(tmp, 'run');
const ck = join(run, 'checkpoints', 'last');

before(async () => {
  const r = await runCli(tinyDinoArgs(run, ['--steps', '2', '--checkpoint-every', '2']));
  assert.equal(r.code, 0, r.stderr);
});

/** A network's backbone tensors from the checkpoint's model.safetensors, read directly. */
async function checkpointPart(part: 'student' | 'teacher') {
  const file = await readSafetensors(join(ck, 'model.safetensors'));
  const out = new Map<string, Float32Array>();
  for (const [k, t] of file.tensors) if (k.startsWith(`${part}.`) && !k.includes('dino_head')) out.set(k.slice(part.length + 1), t.data as Float32Array);
  return out;
}

test('ONNX export of a trained checkpoint: the teacher, equal to the training graph forward of its weights', async () => {
  const out = join(tmp, 'teacher.onnx');
  const r = await runExportCli(['--checkpoint', ck, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /teacher backbone of vit-tiny\/8 \(dino, step 2\)/);
  const m = /embedding max abs diff (\S+) \(relative (\S+)\)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  console.log(`trained checkpoint, export verification: ${m[0]}`);
  assert.ok(Number(m[2]) < 1e-4);
  const info = readModelInfo(readFileSync(out));
  assert.equal(info.metadata.part, 'teacher');
  assert.equal(info.metadata.image_size, '32');

  // independently of the exporter: a training-style graph (params as inputs) fed the checkpoint's teacher tensors
  const model = getModel('vit-tiny/8', modelOverrides({ embed_dim: 32, depth: 2, num_heads: 2 }));
  const teacher = await checkpointPart('teacher');
  const student = await checkpointPart('student');
  const { g, outputs } = buildBackboneGraph(model, { imageSize: 32 });
  const ref = await Session.create(toBytes(g, outputs).bytes);
  const x = randomImages(3, 32, 4);
  const feeds = (w: Map<string, Float32Array>) => Object.fromEntries([['images', { data: x, dims: [3, 3, 32, 32] }], ...g.params.map((p) => [p.name, { data: w.get(p.name)!, dims: p.shape }])]);
  const want = await ref.run(feeds(teacher));
  const fromStudent = await ref.run(feeds(student));
  const s = await ort.InferenceSession.create(out);
  const got = await s.run({ images: new ort.Tensor('float32', x, [3, 3, 32, 32]) });
  for (const name of ['embedding', 'patch_tokens']) {
    const e = relErr(got[name].data as Float32Array, want[name].data as Float32Array);
    assert.ok(e < 1e-5, `${name}: ${e}`);
  }
  // after two EMA steps the student differs: the file is the teacher's
  assert.ok(relErr(got.embedding.data as Float32Array, fromStudent.embedding.data as Float32Array) > 1e-6);
});

test('student at opset 17, fixed batch, another image size', async () => {
  const out = join(tmp, 'student17.onnx');
  const r = await runExportCli(['--checkpoint', ck, '--out', out, '--part', 'student', '--opset', '17', '--no-dynamic-batch', '--batch-size', '2', '--image-size', '48']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /student backbone .* opset 17, input images \[2,3,48,48\]/);
  const info = readModelInfo(readFileSync(out));
  assert.equal(info.opset, 17);
  assert.equal(info.metadata.part, 'student');
  const s = await ort.InferenceSession.create(out);
  const got = await s.run({ images: new ort.Tensor('float32', randomImages(2, 48, 1), [2, 3, 48, 48]) });
  assert.deepEqual(got.patch_tokens.dims, [2, 36, 32]);
});

test('safetensors export for the training size: pos_embed for a 4x4 grid, the ONNX function at 32 px', async () => {
  const out = join(tmp, 'backbone-32.safetensors');
  const r = await runExportCli(['--checkpoint', ck, '--format', 'safetensors', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const file = await readSafetensors(out);
  const teacher = await checkpointPart('teacher');
  assert.deepEqual([...file.tensors.keys()].sort(), [...teacher.keys()].sort());
  assert.deepEqual(file.tensors.get('pos_embed')!.shape, [1, 17, 32]);
  for (const [k, t] of file.tensors) if (k !== 'pos_embed') assert.deepEqual(t.data, teacher.get(k), k);
  assert.equal(file.metadata.image_size, '32');
  assert.equal(file.metadata.stored_image_size, '224');
  assert.equal(file.metadata.timm_model, 'vit_small_patch8_224');
  assert.deepEqual(JSON.parse(file.metadata.timm_kwargs), { num_classes: 0, img_size: 32, embed_dim: 32, depth: 2, num_heads: 2 });

  // a graph at 32 px fed the file's pos_embed as its stored grid computes what the teacher computes at 32 px
  const model = getModel('vit-tiny/8', modelOverrides({ embed_dim: 32, depth: 2, num_heads: 2 }));
  const at32 = getModel('vit-tiny/8', { vit: { embedDim: 32, depth: 2, numHeads: 2, imgSize: 32 } });
  const x = randomImages(2, 32, 5);
  const outputOf = async (m: typeof model, w: Map<string, Float32Array>) => {
    const { g, outputs } = buildBackboneGraph(m, { imageSize: 32 });
    const s = await Session.create(toBytes(g, outputs).bytes);
    return (await s.run(Object.fromEntries([['images', { data: x, dims: [2, 3, 32, 32] }], ...g.params.map((p) => [p.name, { data: w.get(p.name)!, dims: p.shape }])])));
  };
  const fromFile = new Map([...file.tensors].map(([k, t]) => [k, t.data as Float32Array]));
  const want = await outputOf(model, teacher);
  const got = await outputOf(at32, fromFile);
  for (const name of ['embedding', 'patch_tokens']) assert.ok(relErr(got[name].data as Float32Array, want[name].data as Float32Array) < 1e-5, name);
});

test('safetensors export at the stored size round trip: --init-weights loads it into student and teacher', async () => {
  const out = join(tmp, 'backbone.safetensors');
  const r = await runExportCli(['--checkpoint', ck, '--format', 'safetensors', '--out', out, '--image-size', '224']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /30 tensors/);
  const file = await readSafetensors(out);
  const teacher = await checkpointPart('teacher');
  assert.deepEqual([...file.tensors.keys()].sort(), [...teacher.keys()].sort());
  for (const [k, t] of file.tensors) assert.deepEqual(t.data, teacher.get(k), k);
  assert.equal(file.metadata.image_size, '224');

  // a fresh DINO from the same config with another seed: different weights until --init-weights
  const cfg = resolvePretrainConfig(readConfigFile('test/fixtures/tiny-dino.yaml'), { data: 'examples/images', out: join(tmp, 'fresh'), seed: 99 });
  const dino = createMethod<Dino>(cfg);
  const headBefore = Float32Array.from(dino.student.value('dino_head.last_layer.weight_v'));
  assert.notDeepEqual(dino.backbone('student').tensors.get('pos_embed')!.data, teacher.get('pos_embed'));
  const warnings: string[] = [];
  const report = await applyInitWeights(dino, out, (m) => warnings.push(m));
  assert.equal(report.loaded, 30);
  assert.deepEqual(report.ignored, []);
  assert.deepEqual(warnings, []);
  for (const part of ['student', 'teacher'] as const) {
    const b = dino.backbone(part).tensors;
    assert.equal(b.size, file.tensors.size);
    for (const [k, t] of file.tensors) assert.deepEqual(b.get(k)!.data, t.data, `${part} ${k}`);
  }
  // the heads keep their own initialisation
  assert.deepEqual(dino.student.value('dino_head.last_layer.weight_v'), headBefore);
});

test('a DINOv2 checkpoint exports the backbone DINOv2 trained: LayerScale gammas included, timm *_dinov2 names', async () => {
  const v2 = join(tmp, 'dinov2-run');
  const run2 = await runCli(['pretrain', '--config', 'test/fixtures/dinov2/tiny-dinov2.yaml', '--data', 'examples/images', '--out', v2, '--steps', '2', '--checkpoint-every', '2']);
  assert.equal(run2.code, 0, run2.stderr);
  const out = join(tmp, 'dinov2.safetensors');
  const r = await runExportCli(['--checkpoint', join(v2, 'checkpoints', 'last'), '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const file = await readSafetensors(out);
  const ck2 = await readSafetensors(join(v2, 'checkpoints', 'last', 'model.safetensors'));
  for (const k of ['blocks.0.ls1.gamma', 'blocks.0.ls2.gamma', 'blocks.1.ls1.gamma', 'blocks.1.ls2.gamma']) {
    assert.deepEqual(file.tensors.get(k)?.data, ck2.tensors.get(`teacher.${k}`)!.data, k);
  }
  assert.ok(!file.tensors.has('mask_token'));
  assert.equal(file.metadata.timm_model, 'vit_small_patch14_dinov2');
  assert.deepEqual(JSON.parse(file.metadata.timm_kwargs), { num_classes: 0, img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2 });
});

test('bad inputs: clear UserErrors (exit 2)', async () => {
  const expectUserError = async (o: Parameters<typeof exportCheckpoint>[0], pattern: RegExp) => {
    const e = await exportCheckpoint(o).then(() => undefined, (err: unknown) => err);
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, pattern);
  };
  const out = join(tmp, 'x.onnx');
  await expectUserError({ checkpoint: join(tmp, 'nope'), out }, /checkpoint directory .*nope does not exist/);
  const empty = join(tmp, 'empty-ck');
  mkdirSync(empty);
  await expectUserError({ checkpoint: empty, out }, /not a dinotrain checkpoint: state\.json is missing/);
  await expectUserError({ checkpoint: run, out }, /state\.json is missing \(it looks like a run folder: try --checkpoint .*checkpoints\/last\)/);
  const onnxFile = join(tmp, 'someone-elses.onnx');
  writeFileSync(onnxFile, 'not a checkpoint');
  await expectUserError({ checkpoint: onnxFile, out }, /is not a directory — it is an ONNX file; --checkpoint takes a checkpoint directory/);
  await expectUserError({ checkpoint: ck, out, imageSize: 36 }, /image size 36 is not a multiple of vit-tiny\/8's patch size 8/);
  await expectUserError({ checkpoint: ck, out, format: 'pt' as never }, /unknown --format 'pt'/);
  await expectUserError({ checkpoint: ck, out: join(tmp, 'x.bin') }, /--format is needed/);
  await expectUserError({ checkpoint: ck, out, part: 'head' as never }, /unknown --part 'head'/);
  await expectUserError({ checkpoint: ck, out, opset: 13 }, /--opset 13 is not supported/);
  // a checkpoint without a teacher (as SimCLR writes)
  const noTeacher = join(tmp, 'no-teacher');
  mkdirSync(noTeacher);
  copyFileSync(join(ck, 'state.json'), join(noTeacher, 'state.json'));
  const student = await readSafetensors(join(ck, 'model.safetensors'));
  await writeSafetensors(join(noTeacher, 'model.safetensors'), new Map([...student.tensors].filter(([k]) => k.startsWith('student.'))));
  await expectUserError({ checkpoint: noTeacher, out }, /has no teacher network; it holds: student/);
  // a checkpoint of another architecture than its state.json says
  const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
  state.config.model_args.embed_dim = 64;
  state.config.model_args.num_heads = 4;
  writeFileSync(join(noTeacher, 'state.json'), JSON.stringify(state));
  await expectUserError({ checkpoint: noTeacher, out, part: 'student' }, /does not fit vit-tiny\/8: 'student\.cls_token' has shape \[1,1,32\], vit-tiny\/8 needs \[1,1,64\]/);
  assert.ok(!existsSync(out), 'no file written on error');

  // through the CLI: one line, exit 2, no stack trace; commander rejects unknown choices
  for (const [args, pattern] of [
    [['--checkpoint', empty, '--out', out], /dinotrain: .*state\.json is missing/],
    [['--checkpoint', ck, '--out', out, '--format', 'pt'], /argument 'pt' is invalid\. Allowed choices are onnx, safetensors/],
  ] as const) {
    const r = await runExportCli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/);
  }
  rmSync(noTeacher, { recursive: true });
});
