// End to end: `dinotrain pretrain --method dino` on the bundled photos with a tiny ViT.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { labelledPhotos } from '../helpers/labelled-photos.js';
import { runCli, startCli, tinyDinoArgs } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-dino-'));
const readMetrics = (out: string) =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

test('trains, logs, checkpoints and exports; resume gives the same losses', async () => {
  const a = join(tmp, 'a');
  const r = await runCli(tinyDinoArgs(a));
  assert.equal(r.code, 0, r.stderr);

  const m = readMetrics(a);
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
  for (const row of m) {
    for (const key of ['loss', 'dino_global', 'dino_local', 'lr', 'wd', 'momentum', 'teacher_temp', 'images_per_s', 'data_wait', 'rss_mb', 'epoch']) {
      assert.ok(Number.isFinite(row[key]), `${key} in ${JSON.stringify(row)}`);
    }
    assert.ok(Math.abs(row.loss - row.dino_global - row.dino_local) < 1e-4);
  }
  for (const f of ['config.json', 'train.log', 'checkpoints/last/model.safetensors', 'checkpoints/last/optimizer.safetensors',
    'checkpoints/last/state.json', 'checkpoints/step-3/state.json', 'checkpoints/step-6/state.json',
    'exported_models/backbone.onnx', 'exported_models/backbone.safetensors']) {
    assert.ok(existsSync(join(a, f)), f);
  }
  assert.ok(readdirSync(a).some((f) => f.startsWith('events.out.tfevents.')));
  const log = readFileSync(join(a, 'train.log'), 'utf8');
  assert.match(log, /"images":37/);
  assert.match(log, /"provider":"cpu"/);

  const state = JSON.parse(readFileSync(join(a, 'checkpoints/last/state.json'), 'utf8'));
  assert.equal(state.step, 6);
  const ck = await readSafetensors(join(a, 'checkpoints/last/model.safetensors'));
  assert.ok(ck.tensors.has('student.blocks.1.attn.qkv.weight'));
  assert.ok(ck.tensors.has('teacher.dino_head.last_layer.weight_v'));
  assert.ok(ck.tensors.has('dino.center'));

  // the exported backbone: timm names, and the ONNX graph runs with a dynamic batch
  const st = await readSafetensors(join(a, 'exported_models/backbone.safetensors'));
  assert.deepEqual(st.tensors.get('pos_embed')!.shape, [1, 1 + 28 * 28, 32]);
  assert.ok(![...st.tensors.keys()].some((k) => k.startsWith('dino_head') || k === 'mask_token'));
  const s = await ort.InferenceSession.create(join(a, 'exported_models/backbone.onnx'));
  for (const n of [1, 3]) {
    const out = await s.run({ images: new ort.Tensor('float32', new Float32Array(n * 3 * 32 * 32).fill(0.5), [n, 3, 32, 32]) });
    assert.deepEqual(out.embedding.dims, [n, 32]);
    assert.deepEqual(out.patch_tokens.dims, [n, 16, 32]);
  }

  // resume from the step-3 checkpoint: steps 4..6 repeat run A exactly, here with the views augmented in worker
  // threads (run A rendered them on the main thread: 'auto' is 0 on CI's 2 cores)
  const b = join(tmp, 'b');
  mkdirSync(join(b, 'checkpoints'), { recursive: true });
  cpSync(join(a, 'checkpoints/step-3'), join(b, 'checkpoints/last'), { recursive: true });
  const rb = await runCli(tinyDinoArgs(b, ['--resume', '--augment-workers', '2']));
  assert.equal(rb.code, 0, rb.stderr);
  const mb = readMetrics(b);
  assert.deepEqual(mb.map((x) => x.step), [4, 5, 6]);
  for (const row of mb) {
    const ref = m.find((x) => x.step === row.step)!;
    for (const key of ['loss', 'dino_global', 'dino_local', 'lr', 'momentum', 'teacher_temp']) assert.equal(row[key], ref[key], `${key} at step ${row.step}`);
  }
});

test('a checkpoint from another architecture is refused with the differing keys', async () => {
  const a = join(tmp, 'c');
  assert.equal((await runCli(tinyDinoArgs(a, ['--steps', '3']))).code, 0);
  const r = await runCli(tinyDinoArgs(a, ['--steps', '3', '--resume', '--model', 'vit-tiny/16']));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /model: "vit-tiny\/8" in the checkpoint, "vit-tiny\/16" now/);
});

test('SIGINT writes a checkpoint and exits 130; resume continues', async () => {
  const out = join(tmp, 'sig');
  const run = startCli(tinyDinoArgs(out, ['--steps', '2000', '--checkpoint-every', '1000']));
  const metrics = join(out, 'metrics.jsonl');
  while (!existsSync(metrics) || readFileSync(metrics, 'utf8').split('\n').length < 4) await new Promise((r) => setTimeout(r, 100));
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  const state = JSON.parse(readFileSync(join(out, 'checkpoints/last/state.json'), 'utf8'));
  assert.ok(state.step >= 3 && state.step < 2000, `checkpoint at step ${state.step}`);
  assert.match(r.stderr, /--resume/);
});

test('a NaN loss stops the run with exit 1 and keeps the last good checkpoint', async () => {
  const out = join(tmp, 'nan');
  const r = await runCli(tinyDinoArgs(out, ['--lr', '1e38', '--checkpoint-every', '1', '--steps', '50']));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /loss became (NaN|Infinity|-Infinity) at step \d+/);
  const state = JSON.parse(readFileSync(join(out, 'checkpoints/last/state.json'), 'utf8'));
  assert.ok(state.step >= 1);
  // steps are counted from 1 in the logs: the step that failed is the one after the last checkpoint
  assert.equal(Number(/loss became \S+ at step (\d+)/.exec(r.stderr)![1]), state.step + 1);
  const ck = await readSafetensors(join(out, 'checkpoints/last/model.safetensors'));
  for (const [, t] of ck.tensors) for (const v of t.data as Float32Array) assert.ok(Number.isFinite(v));
});

test('--init-weights starts from an exported backbone; val_data logs kNN accuracy while training', async () => {
  const a = join(tmp, 'init-a');
  assert.equal((await runCli(tinyDinoArgs(a, ['--steps', '2']))).code, 0);
  const labelled = labelledPhotos(join(tmp, 'labelled'));
  const cfg = join(tmp, 'val.yaml');
  writeFileSync(cfg, `${readFileSync('test/fixtures/tiny-dino.yaml', 'utf8')}\nval_data: { train: ${labelled.train}, val: ${labelled.val}, every: 2, k: 3 }\n`);
  const b = join(tmp, 'init-b');
  const args = tinyDinoArgs(b, ['--steps', '4', '--init-weights', join(a, 'exported_models/backbone.safetensors')]);
  args[args.indexOf('--config') + 1] = cfg;
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(b, 'train.log'), 'utf8'), /backbone initialised from .*backbone\.safetensors/);
  const knn = readMetrics(b).filter((x) => x.knn_top1 !== undefined);
  assert.deepEqual(knn.map((x) => x.step), [2, 4]);
  for (const x of knn) assert.ok(x.knn_top1 >= 0 && x.knn_top1 <= 1);
});
