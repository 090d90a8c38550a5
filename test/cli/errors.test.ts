// Bad input gets one clear line and a non-zero exit, never a stack trace.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tinyDinoArgs } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-cli-errors-'));

function assertCleanError(r: { code: number | null; stderr: string }, code: number, pattern: RegExp) {
  assert.equal(r.code, code, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
}

test('missing data folder', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o1'), ['--data', join(tmp, 'nope')]));
  assertCleanError(r, 2, /nope/);
});

test('folder without images', async () => {
  const empty = join(tmp, 'empty');
  mkdirSync(join(empty, 'sub'), { recursive: true });
  writeFileSync(join(empty, 'sub', 'notes.txt'), 'not an image');
  const r = await runCli(tinyDinoArgs(join(tmp, 'o2'), ['--data', empty]));
  assertCleanError(r, 2, /no .*image|image.*(found|none)/i);
});

test('unknown method', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o3'), ['--method', 'byol']));
  assertCleanError(r, 2, /byol/);
  assert.match(r.stderr, /dino/);
});

test('unknown model lists the valid ones', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o4'), ['--model', 'vit-huge/3']));
  assertCleanError(r, 2, /vit-huge\/3/);
  assert.match(r.stderr, /resnet18/);
});

test('unknown logger', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o5'), ['--loggers', 'jsonl,mlflow']));
  assertCleanError(r, 2, /mlflow/);
});

test('bad config keys: one line per problem naming the key and the valid keys', async () => {
  const cfg = join(tmp, 'bad.yaml');
  writeFileSync(cfg, 'batch_size: -3\nlearning_rate: 0.1\ntransforms:\n  global: { size: 32, cuont: 2 }\nmethod_args: { student_temp: "hot" }\n');
  const r = await runCli(['pretrain', '--config', cfg, '--data', 'examples/images', '--out', join(tmp, 'o6')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^\s*batch_size: .*/m);
  assert.match(r.stderr, /learning_rate: unknown key; valid keys here: .*batch_size/);
  assert.match(r.stderr, /transforms\.global\.cuont: unknown key; valid keys here: .*count/);
  assert.match(r.stderr, /method_args\.student_temp: /);
});

test('augment_workers: auto or a count; anything else names the key', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o10'), ['--augment-workers', '-1']));
  assertCleanError(r, 2, /augment_workers/);
  const p = await runCli(tinyDinoArgs(join(tmp, 'o11'), ['--augment-workers', '2', '--print-config']));
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /^augment_workers: 2$/m);
});

test('config file that is not YAML', async () => {
  const cfg = join(tmp, 'broken.yaml');
  writeFileSync(cfg, 'steps: [1, 2\n');
  const r = await runCli(['pretrain', '--config', cfg, '--data', 'examples/images', '--out', join(tmp, 'o7')]);
  assertCleanError(r, 2, /broken\.yaml/);
});

test('non-empty out without --resume or --overwrite', async () => {
  const out = join(tmp, 'used');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'something.txt'), 'x');
  const r = await runCli(tinyDinoArgs(out));
  assertCleanError(r, 2, /not empty.*--resume.*--overwrite/);
});

test('--resume without a checkpoint', async () => {
  const out = join(tmp, 'fresh');
  mkdirSync(out, { recursive: true });
  const r = await runCli(tinyDinoArgs(out, ['--resume']));
  assertCleanError(r, 2, /no checkpoint/);
});

test('crop size not a multiple of the patch size', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o8'), ['--global-size', '36']));
  assertCleanError(r, 2, /36.*patch size 8/);
});

test('--device cuda without the CUDA provider says how to get it', async () => {
  const r = await runCli(tinyDinoArgs(join(tmp, 'o9'), ['--device', 'cuda']));
  assertCleanError(r, 2, /CUDA/);
  assert.match(r.stderr, /docs\/gpu\.md|install/);
});

test('--print-config prints the resolved config and trains nothing', async () => {
  const out = join(tmp, 'print');
  const r = await runCli(tinyDinoArgs(out, ['--print-config', '--steps', '11']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^steps: 11$/m);
  assert.match(r.stdout, /^method: dino$/m);
  assert.match(r.stdout, /student_temp: 0\.1/);
  // every 'auto' resolved for the 37 photos and the optimizer's values written out, as config.json will hold them
  assert.match(r.stdout, /^# 37 images in examples\/images: 9 steps per epoch, 11 steps$/m);
  assert.match(r.stdout, /^# optimizer adamw: lr 0\.000007813 \(0\.0005 x 4\/256\) after 1 warmup steps, cosine to 0\.000001 at step 11;/m);
  assert.match(r.stdout, /^  freeze_last_layer_steps: 1$/m);
  assert.match(r.stdout, /^  weight_decay_end: 0\.4$/m);
  assert.ok(!/^ +\w+: auto$/m.test(r.stdout), r.stdout); // (device and augment_workers are decided when the run starts)
  // without readable data the config is printed as given, saying why
  const u = await runCli(['pretrain', '--data', join(tmp, 'no-such-folder'), '--print-config']);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /^# 'auto' settings and the optimizer's defaults are left unresolved: .*no-such-folder/);
  assert.match(u.stdout, /^optim: \{\}$/m);
});
