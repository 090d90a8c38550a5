// End to end: `dinotrain pretrain --method distillation --teacher T.onnx` on the bundled photos, with tiny random
// teachers: the loss parts and the teacher/student timings are logged, checkpoints hold the student and the queue
// but no teacher, config.json records the teacher's hash, a resume repeats the run and refuses another teacher.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { labelledPhotos } from '../helpers/labelled-photos.js';
import { runCli } from '../helpers/run-cli.js';
import { writeDinotrainTeacher } from '../helpers/teacher-onnx.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-distill-'));
const teacher = writeDinotrainTeacher(join(tmp, 'teacher.onnx'));
const args = (out: string, extra: string[] = []) => [
  'pretrain', '--config', 'test/fixtures/distillation/tiny-distillation.yaml', '--data', 'examples/images', '--out', out, '--teacher', teacher, ...extra,
];
const readMetrics = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

test('distills into a ResNet student: logs, checkpoints without the teacher, export; resume repeats the losses', async () => {
  const a = join(tmp, 'a');
  const r = await runCli(args(a));
  assert.equal(r.code, 0, r.stderr);
  const m = readMetrics(a);
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4]);
  for (const row of m) {
    for (const key of ['loss', 'distill_global', 'distill_dense', 'teacher_ms', 'student_ms', 'grad_norm']) assert.ok(Number.isFinite(row[key]), `${key} in ${JSON.stringify(row)}`);
    assert.ok(Math.abs(row.loss - row.distill_global - row.distill_dense) < 1e-4);
  }
  const cfg = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
  assert.equal(cfg.method_args.teacher_sha256, createHash('sha256').update(readFileSync(teacher)).digest('hex'));
  assert.deepEqual(cfg.method_args.teacher_outputs, { global: 'embedding', dense: 'patch_tokens' });
  assert.equal(cfg.method_args.queue_size, 16);
  assert.equal(cfg.optim.name, 'lars');
  assert.match(readFileSync(join(a, 'train.log'), 'utf8'), /teacher .*teacher\.onnx \(sha256 [0-9a-f]{12}\): 32x32 px input, global features 'embedding' \(32\) and patch features 'patch_tokens' \(4x4 x 32\)/);

  const ck = await readSafetensors(join(a, 'checkpoints/last/model.safetensors'));
  const keys = [...ck.tensors.keys()];
  assert.ok(keys.every((k) => k.startsWith('student.') || k === 'distillation.queue'), keys.filter((k) => !k.startsWith('student.')).join(', '));
  assert.deepEqual(ck.tensors.get('distillation.queue')!.shape, [16, 32]);
  assert.deepEqual(ck.tensors.get('student.projection_dense.weight')!.shape, [32, 64]);
  const s = await ort.InferenceSession.create(join(a, 'exported_models/backbone.onnx'));
  const out = await s.run({ images: new ort.Tensor('float32', new Float32Array(2 * 3 * 32 * 32).fill(0.1), [2, 3, 32, 32]) });
  assert.deepEqual(out.embedding.dims, [2, 64]);
  await s.release();

  const b = join(tmp, 'b');
  mkdirSync(join(b, 'checkpoints'), { recursive: true });
  cpSync(join(a, 'checkpoints/step-2'), join(b, 'checkpoints/last'), { recursive: true });
  const rb = await runCli(args(b, ['--resume']));
  assert.equal(rb.code, 0, rb.stderr);
  const mb = readMetrics(b);
  assert.deepEqual(mb.map((x) => x.step), [3, 4]);
  for (const row of mb) {
    const ref = m.find((x) => x.step === row.step)!;
    for (const key of ['loss', 'distill_global', 'distill_dense', 'lr']) assert.equal(row[key], ref[key], `${key} at step ${row.step}`);
  }

  // the same path with another teacher in it: refused, naming the hash
  const other = join(tmp, 'c');
  mkdirSync(join(other, 'checkpoints'), { recursive: true });
  cpSync(join(a, 'checkpoints/step-2'), join(other, 'checkpoints/last'), { recursive: true });
  const swapped = writeDinotrainTeacher(join(tmp, 'other-teacher.onnx'), { seed: 99 });
  const rc = await runCli(args(other, ['--resume', '--teacher', swapped]));
  assert.equal(rc.code, 2, rc.stderr);
  assert.match(rc.stderr, /cannot resume from .*: method_args\.teacher_sha256: "[0-9a-f]{64}" in the checkpoint, "[0-9a-f]{64}" now/);
  assert.equal(rc.stderr.trim().split('\n').length, 1, rc.stderr);
});

test('a ViT student learns the patch features alone (variant dense) from a teacher of another grid, with online kNN', async () => {
  const out = join(tmp, 'vit');
  const labelled = labelledPhotos(join(tmp, 'labelled'));
  const big = writeDinotrainTeacher(join(tmp, 'teacher48.onnx'), { imageSize: 48 });
  const cfgPath = join(tmp, 'vit.yaml');
  writeFileSync(cfgPath, [
    'method: distillation', 'model: vit-tiny/16', 'model_args: { embed_dim: 32, depth: 1, num_heads: 2 }', 'batch_size: 4', 'steps: 2', 'log_every: 1',
    'threads: 1', 'num_workers: 2', 'method_args: { variant: dense }', 'transforms: { global: { size: 32 } }',
  ].join('\n'));
  const rv = await runCli(['pretrain', '--config', cfgPath, '--data', 'examples/images', '--out', out, '--teacher', big, '--overwrite',
    '--val-data', `train=${labelled.train},val=${labelled.val}`]);
  assert.equal(rv.code, 0, rv.stderr);
  const m = readMetrics(out).filter((row) => row.loss !== undefined);
  assert.ok(m.length === 2 && m.every((row) => Number.isFinite(row.distill_dense) && row.distill_global === undefined && row.loss === row.distill_dense));
  const knn = readMetrics(out).filter((row) => row.knn_top1 !== undefined);
  assert.ok(knn.length >= 1 && knn.every((row) => row.knn_top1 >= 0 && row.knn_top1 <= 1), JSON.stringify(knn));
  assert.match(readFileSync(join(out, 'train.log'), 'utf8'), /48x48 px input, patch features 'patch_tokens' \(6x6 x 32\)/);
  assert.ok(existsSync(join(out, 'exported_models/backbone.onnx')));
});

test('flag mistakes are one line and exit 2', async () => {
  const dino = await runCli(['pretrain', '--method', 'dino', '--teacher', teacher, '--data', 'examples/images', '--out', join(tmp, 'x')]);
  assert.equal(dino.code, 2, dino.stderr);
  assert.match(dino.stderr, /--teacher: method dino takes no teacher; use --method distillation/);
  const none = await runCli(['pretrain', '--method', 'distillation', '--data', 'examples/images', '--out', join(tmp, 'y')]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /distillation needs a teacher: --teacher MODEL\.onnx/);
  const missing = await runCli(['pretrain', '--method', 'distillation', '--teacher', join(tmp, 'nope.onnx'), '--data', 'examples/images', '--out', join(tmp, 'z')]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /nope\.onnx: no such file/);
  for (const r of [dino, none, missing]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!existsSync(join(tmp, 'y')) && !existsSync(join(tmp, 'z')));
});

test('--overwrite never clears a teacher that lies in --out (e.g. the previous run\'s own export)', async () => {
  const out = join(tmp, 'self-teacher');
  mkdirSync(join(out, 'exported_models'), { recursive: true });
  const inside = join(out, 'exported_models/backbone.onnx');
  cpSync(teacher, inside);
  const r = await runCli(['pretrain', '--config', 'test/fixtures/distillation/tiny-distillation.yaml', '--data', 'examples/images', '--out', out, '--teacher', inside, '--overwrite']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--overwrite would clear .*self-teacher, which holds --teacher .*backbone\.onnx; pick another --out/);
  assert.ok(existsSync(inside), 'the teacher is still there');
});
