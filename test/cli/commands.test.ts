// The small commands and the config precedence rules.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolvePretrainConfig } from '../../src/config/load.js';
import { UserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/run-cli.js';

test('doctor prints versions, providers and the auto device', async () => {
  const r = await runCli(['doctor', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.match(d['onnxruntime-node'], /^\d+\.\d+\.\d+$/);
  assert.match(d.sharp, /^\d+\.\d+\.\d+$/);
  assert.ok(d.providers.some((p: { name: string; installed: boolean }) => p.name === 'cpu' && p.installed));
  assert.match(d['device auto'], /^(cpu|cuda) \(auto: /);
  assert.ok(d['intra-op threads (default)'] >= 1);
  assert.equal(d['wasm simd kernels'], 'yes', 'Node 20 has WebAssembly SIMD: the optimizer and augmentation kernels assemble and load');
});

test('--help lists every command', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['pretrain', 'preview', 'embed', 'eval', 'doctor']) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
});

test('config precedence: method preset < file < flags', () => {
  const file = { method: 'dino', batch_size: 7, steps: 5, transforms: { local: { count: 3 } }, method_args: { student_temp: 0.2 } };
  const cfg = resolvePretrainConfig(file, { data: 'd', out: 'o', batch_size: 9, transforms: { global: { size: 64 } } });
  assert.equal(cfg.batch_size, 9);
  assert.equal(cfg.steps, 5);
  assert.equal(cfg.transforms.local.count, 3);
  assert.equal(cfg.transforms.local.size, 96);
  assert.equal(cfg.transforms.global.size, 64);
  assert.deepEqual(cfg.transforms.global.scale, [0.14, 1]);
  assert.equal((cfg.method_args as { student_temp: number }).student_temp, 0.2);
  assert.equal(cfg.model, 'vit-tiny/16');
  // another method brings its own preset
  const v2 = resolvePretrainConfig({}, { data: 'd', out: 'o', method: 'dinov2' });
  assert.equal(v2.transforms.local.count, 8);
  assert.equal(v2.model, 'vit-small/14');
});

test('config errors name every bad key', () => {
  assert.throws(
    () => resolvePretrainConfig({ batch_size: 0, optim: { lr: -1, momentun: 0.9 } }, { data: 'd', out: 'o' }),
    (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /batch_size: /);
      assert.match(e.message, /optim\.lr: /);
      assert.match(e.message, /optim\.momentun: unknown key; valid keys here: .*momentum/);
      return true;
    },
  );
});

test('a JSON config file works like YAML', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dt-cfg-'));
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ steps: 17, model: 'resnet18', method: 'simclr' }));
  const r = await runCli(['pretrain', '--config', join(dir, 'c.json'), '--data', 'examples/images', '--out', join(dir, 'o'), '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^steps: 17$/m);
  assert.match(r.stdout, /^model: resnet18$/m);
});
