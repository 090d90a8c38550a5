// End to end: `dinotrain pretrain --method dinov2` on the bundled photos with a tiny ViT/8 (32 px global crops, a
// 4x4 patch grid for the iBOT masks): loss parts in metrics.jsonl, checkpoints with both centers, the export without
// the mask token, and resume from step 3 repeating steps 4..6 exactly.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { runCli } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-dinov2-'));
const args = (out: string, extra: string[] = []) => [
  'pretrain', '--config', 'test/fixtures/dinov2/tiny-dinov2.yaml', '--data', 'examples/images', '--out', out, ...extra,
];
const readMetrics = (out: string) =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
const PARTS = ['dino_global', 'dino_local', 'ibot', 'koleo'];

test('trains with DINO, iBOT and KoLeo losses, checkpoints, exports; resume gives the same losses', async () => {
  const a = join(tmp, 'a');
  const r = await runCli(args(a));
  assert.equal(r.code, 0, r.stderr);

  const m = readMetrics(a);
  assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
  for (const row of m) {
    for (const key of ['loss', ...PARTS, 'lr', 'wd', 'momentum', 'teacher_temp', 'grad_norm']) {
      assert.ok(Number.isFinite(row[key]), `${key} in ${JSON.stringify(row)}`);
    }
    // default weights: DINO 1, iBOT 1, KoLeo 0.1
    assert.ok(Math.abs(row.loss - (row.dino_global + row.dino_local + row.ibot + 0.1 * row.koleo)) < 1e-4, JSON.stringify(row));
  }
  assert.ok(m.some((row) => row.ibot > 0), 'some batch had masked patches');
  assert.equal(m[0].momentum, 0.992);
  assert.equal(m[0].teacher_temp, 0.04);

  for (const f of ['checkpoints/last/model.safetensors', 'checkpoints/last/optimizer.safetensors', 'checkpoints/last/state.json',
    'checkpoints/step-3/state.json', 'checkpoints/step-6/state.json', 'exported_models/backbone.onnx', 'exported_models/backbone.safetensors']) {
    assert.ok(existsSync(join(a, f)), f);
  }
  const ck = await readSafetensors(join(a, 'checkpoints/last/model.safetensors'));
  for (const k of ['student.mask_token', 'teacher.mask_token', 'student.blocks.1.attn.qkv.weight', 'teacher.dino_head.last_layer.weight_v',
    'dinov2.center_cls', 'dinov2.center_patch']) {
    assert.ok(ck.tensors.has(k), k);
  }
  const st = await readSafetensors(join(a, 'exported_models/backbone.safetensors'));
  assert.ok(st.tensors.has('blocks.1.mlp.fc2.weight'));
  assert.ok(![...st.tensors.keys()].some((k) => k === 'mask_token' || k.startsWith('dino_head')));

  // resume from the step-3 checkpoint: steps 4..6 repeat run A exactly (same masks, drop path, centers, teacher)
  const b = join(tmp, 'b');
  mkdirSync(join(b, 'checkpoints'), { recursive: true });
  cpSync(join(a, 'checkpoints/step-3'), join(b, 'checkpoints/last'), { recursive: true });
  const rb = await runCli(args(b, ['--resume']));
  assert.equal(rb.code, 0, rb.stderr);
  const mb = readMetrics(b);
  assert.deepEqual(mb.map((x) => x.step), [4, 5, 6]);
  for (const row of mb) {
    const ref = m.find((x) => x.step === row.step)!;
    for (const key of ['loss', ...PARTS, 'lr', 'momentum', 'teacher_temp', 'grad_norm']) assert.equal(row[key], ref[key], `${key} at step ${row.step}`);
  }
});

test('a ResNet backbone is refused with exit code 2 and a message that DINOv2 needs a ViT', async () => {
  const r = await runCli(args(join(tmp, 'resnet'), ['--model', 'resnet18']));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /DINOv2 needs a Vision Transformer/);
});
