// A resume continues with exactly the model it saved: a setting that changes the model, its heads, the method's state
// or the optimizer is refused (exit 2, naming the setting and both values), decided from the checkpoint itself;
// other settings may change and are logged.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.js';
import { runCli } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-resume-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const base = YAML.parse(readFileSync('test/fixtures/tiny-dino.yaml', 'utf8')) as Record<string, unknown>;
let run: Record<string, string>;

/** A config file: the tiny DINO config (or DINOv2's) with `change` deep-merged on top. */
function config(name: string, change: Record<string, unknown>, file = base): string {
  const merged = structuredClone(file);
  for (const [k, v] of Object.entries(change)) {
    merged[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...(merged[k] as object), ...v } : v;
  }
  const path = join(tmp, `${name}.yaml`);
  writeFileSync(path, YAML.stringify(merged));
  return path;
}

const pretrain = (cfg: string, out: string, extra: string[] = []) =>
  runCli(['pretrain', '--config', cfg, '--data', 'examples/images', '--out', out, '--loggers', 'jsonl', ...extra]);

before(async () => {
  const dinov2 = YAML.parse(readFileSync('test/fixtures/dinov2/tiny-dinov2.yaml', 'utf8')) as Record<string, unknown>;
  run = { dino: join(tmp, 'dino'), dinov2: join(tmp, 'dinov2') };
  const [a, b] = await Promise.all([
    pretrain(config('dino', { steps: 3 }), run.dino),
    pretrain(config('dinov2', { steps: 3 }, dinov2), run.dinov2),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
});

function copy(name: string, from = run.dino): string {
  const out = join(tmp, name);
  cpSync(from, out, { recursive: true });
  return out;
}

const refused = [
  { name: 'head size', change: { method_args: { output_dim: 32 } }, says: /method_args\.output_dim: 64 in the checkpoint, 32 now/ },
  { name: 'architecture with the same tensor shapes', change: { model_args: { num_heads: 4 } }, says: /model_args\.num_heads: 2 in the checkpoint, 4 now/ },
  { name: 'registers', change: { model_args: { num_registers: 2 } }, says: /model_args\.num_registers: unset in the checkpoint, 2 now/ },
  { name: 'optimizer kind', change: { optim: { name: 'sgd' } }, says: /optim\.name: "adamw" in the checkpoint, "sgd" now/ },
];

for (const c of refused) {
  test(`resume refuses a changed ${c.name}, naming the setting and both values`, async () => {
    const out = copy(`refused-${c.name.replace(/\W+/g, '-')}`);
    const r = await pretrain(config(c.name.replace(/\W+/g, '-'), { steps: 6, ...c.change }), out, ['--resume']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot resume from .*checkpoints\/last: these settings change the model/);
    assert.match(r.stderr, c.says);
    assert.doesNotMatch(r.stderr, /steps: 3/, 'allowed changes are not blamed');
    assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8'), readFileSync(join(run.dino, 'metrics.jsonl'), 'utf8'), 'nothing written');
  });
}

test("DINOv2: turning on the separate iBOT head is refused (the checkpoint's state has no ibot_head)", async () => {
  const dinov2 = YAML.parse(readFileSync('test/fixtures/dinov2/tiny-dinov2.yaml', 'utf8')) as Record<string, unknown>;
  const out = copy('ibot', run.dinov2);
  const r = await pretrain(config('ibot', { steps: 6, method_args: { ibot_separate_head: true } }, dinov2), out, ['--resume']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /method_args\.ibot_separate_head: false in the checkpoint, true now/);
});

test('safe changes (more steps, log_every, learning rate) are allowed and logged', async () => {
  const out = copy('safe');
  const r = await pretrain(config('safe', { steps: 5, log_every: 2, optim: { lr: 0.001 } }), out, ['--resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /settings changed since the checkpoint: .*steps: 3 in the checkpoint, 5 now/);
  assert.match(r.stderr, /log_every: 1 in the checkpoint, 2 now/);
  assert.match(r.stderr, /optim\.lr: 0\.0005 in the checkpoint, 0\.001 now/);
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5]);
});

test('a checkpoint from a dinotrain whose model differs (DINOv2 without LayerScale) is refused as such, no setting blamed', async () => {
  const dinov2 = YAML.parse(readFileSync('test/fixtures/dinov2/tiny-dinov2.yaml', 'utf8')) as Record<string, unknown>;
  const out = copy('no-layerscale', run.dinov2);
  const file = join(out, 'checkpoints/last/model.safetensors');
  const ck = await readSafetensors(file);
  await writeSafetensors(file, new Map([...ck.tensors].filter(([name]) => !/\.ls[12]\.gamma$/.test(name))), ck.metadata);
  const r = await pretrain(config('no-layerscale', { steps: 6 }, dinov2), out, ['--resume']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /written by a dinotrain whose model differs from this one's, even with the checkpoint's own settings \(not in the checkpoint: student\.blocks\.0\.ls1\.gamma/);
  assert.doesNotMatch(r.stderr, /these settings change the model|steps: 3/);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('dinotrain:')).length, 1, r.stderr);
});
