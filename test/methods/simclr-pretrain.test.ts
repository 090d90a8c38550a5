// `dinotrain pretrain --method simclr` for real: a width-8 ResNet-18 on examples/images at 32 px for a few steps
// (metrics, checkpoints with the BN buffers, the exported backbone), then a resume from step 3 that must reproduce
// steps 4..6 and the final checkpoint exactly.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { resnetConfig, resnetSpec } from '../../src/models/resnet-spec.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'dinotrain-simclr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STEPS = 6;
const config = join(dir, 'simclr.yaml');
writeFileSync(config, 'model_args:\n  width: 8\nmethod_args:\n  hidden_dim: 64\n  output_dim: 32\n');

async function pretrain(out: string, extra: string[] = []) {
  const args = [
    'pretrain', '--config', config, '--data', 'examples/images', '--out', out,
    '--method', 'simclr', '--model', 'resnet18', '--steps', String(STEPS), '--batch-size', '8', '--global-size', '32',
    '--log-every', '1', '--checkpoint-every', '3', '--threads', '1', '--num-workers', '2', '--loggers', 'jsonl', ...extra,
  ];
  const r = await runCli([...args]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

const metrics = (out: string) =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });

test('simclr pretrain: trains, checkpoints with BN buffers, exports the backbone; resume reproduces the run', async () => {
  const a = join(dir, 'a');
  await pretrain(a, ['--overwrite']);

  const ma = metrics(a);
  assert.deepEqual(ma.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  for (const m of ma) assert.ok(Number.isFinite(m.loss) && m.loss > 0, `step ${m.step}: loss ${m.loss}`);
  // NT-Xent over 2·8 views: log(15) ≈ 2.7 for uninformative projections, 0 for perfect ones
  assert.ok(ma[0].loss < 2 * Math.log(15), `first loss ${ma[0].loss}`);
  for (const d of ['last', 'step-3', 'step-6']) {
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'state.json']) assert.ok(existsSync(join(a, 'checkpoints', d, f)), `${d}/${f}`);
  }

  // the checkpoint holds the student with its head and every BatchNorm buffer, updated once per step
  const ck = await readSafetensors(join(a, 'checkpoints', 'last', 'model.safetensors'));
  const spec = resnetSpec(resnetConfig('resnet18', { width: 8 }));
  for (const p of spec) assert.ok(ck.tensors.has('student.' + p.name), `checkpoint lacks student.${p.name}`);
  for (const bn of ['bn1', 'layer4.1.bn2', 'projection_head.1']) {
    assert.equal(Number(ck.tensors.get(`student.${bn}.num_batches_tracked`)!.data[0]), STEPS, `${bn}.num_batches_tracked`);
    assert.ok([...ck.tensors.get(`student.${bn}.running_mean`)!.data].some((v) => v !== 0), `${bn}.running_mean moved`);
  }
  assert.equal([...ck.tensors.keys()].some((k) => k.startsWith('teacher.')), false, 'SimCLR has no teacher');

  // exported backbone: torchvision names without the projection head, and an ONNX model that embeds images
  const exp = await readSafetensors(join(a, 'exported_models', 'backbone.safetensors'));
  assert.deepEqual([...exp.tensors.keys()].sort(), spec.map((p) => p.name).sort());
  assert.equal(exp.metadata.method, 'simclr');
  const session = await ort.InferenceSession.create(join(a, 'exported_models', 'backbone.onnx'), { intraOpNumThreads: 1 });
  const x = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.1));
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [2, 3, 32, 32]) });
  const emb = out[session.outputNames[0]];
  assert.deepEqual(emb.dims, [2, 64]);
  assert.ok((emb.data as Float32Array).every(Number.isFinite));
  await session.release();

  // resume from step 3 in a fresh folder: steps 4..6 and the final weights, BN buffers and optimizer state agree exactly
  const b = join(dir, 'b');
  mkdirSync(join(b, 'checkpoints'), { recursive: true });
  cpSync(join(a, 'checkpoints', 'step-3'), join(b, 'checkpoints', 'last'), { recursive: true });
  await pretrain(b, ['--resume']);
  assert.deepEqual(metrics(b).map((m) => [m.step, m.loss]), ma.slice(3).map((m) => [m.step, m.loss]));
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(join(b, 'checkpoints', 'last', f)).equals(readFileSync(join(a, 'checkpoints', 'last', f))), `last/${f} differs after resume`);
  }
  assert.ok(readFileSync(join(b, 'exported_models', 'backbone.safetensors')).equals(readFileSync(join(a, 'exported_models', 'backbone.safetensors'))));
});
