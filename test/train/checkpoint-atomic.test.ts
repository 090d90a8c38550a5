// A checkpoint writer killed with SIGKILL at random moments never leaves a corrupt `last`: after each kill,
// loadCheckpoint succeeds and returns exactly one of the versions that were being saved.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { FLOATS, expected, SPECS } from '../fixtures/optim/checkpoint-writer.js';

const writer = fileURLToPath(new URL('../fixtures/optim/checkpoint-writer.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dinotrain-ckpt-kill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the writer, waits for its first completed save plus `delayMs`, kills it; returns the last reported version. */
function runAndKill(firstVersion: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, join(dir, 'checkpoints'), String(firstVersion)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const m of chunk.matchAll(/saved (\d+)/g)) reported = Math.max(reported, Number(m[1]));
      if (reported > 0 && !timer) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(reported);
      else reject(new Error(`writer exited early (code ${code}, signal ${signal})`));
    });
  });
}

function checkVersion(tensors: Map<string, { data: ArrayLike<number | bigint> }>, name: string, version: number, k: number): void {
  const data = tensors.get(name)?.data;
  assert.ok(data, `${name} present`);
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== expected(version, k, i)) assert.fail(`${name}[${i}] = ${data[i]}, version ${version} has ${expected(version, k, i)}`);
  }
}

test('SIGKILL during repeated saves never leaves a corrupt last checkpoint', async () => {
  const rng = new Rng(20240607);
  let previous = 0;
  for (let round = 0; round < 6; round++) {
    const reported = await runAndKill(round * 1000 + 1, rng.uniform(0, 400));
    const ck = await loadCheckpoint(join(dir, 'checkpoints', 'last'));
    const v = ck.state.step;
    // the save that was reported is durable; at most the one in flight is newer
    assert.ok(v === reported || v === reported + 1, `round ${round}: loaded version ${v}, writer reported ${reported}`);
    assert.ok(v > previous, `round ${round}: loaded version ${v} after ${previous}`);
    previous = v;
    assert.deepEqual(ck.state.schedules, { lr: v, momentum: -v });
    SPECS.forEach((s, j) => {
      checkVersion(ck.tensors, `student.${s.name}`, v, 1 + j * 10);
      checkVersion(ck.tensors, `teacher.${s.name}`, v, 2 + j * 10);
      checkVersion(ck.optimizer.tensors, `m.${s.name}`, v, 3 + j * 10);
      checkVersion(ck.optimizer.tensors, `v.${s.name}`, v, 4 + j * 10);
      assert.equal(ck.optimizer.tensors.get(`step.${s.name}`)!.data[0], BigInt(v));
    });
    assert.equal(ck.tensors.get('student.blocks.0.weight')!.data.length, FLOATS);
  }
  // every numbered snapshot that exists is complete too
  for (const name of readdirSync(join(dir, 'checkpoints')).filter((n) => /^step-\d+$/.test(n))) {
    const ck = await loadCheckpoint(join(dir, 'checkpoints', name));
    assert.equal(`step-${ck.state.step}`, name);
    checkVersion(ck.tensors, 'student.blocks.0.bias', ck.state.step, 11);
  }
});
