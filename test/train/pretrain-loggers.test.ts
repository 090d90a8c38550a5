// Every logger on a real short training run: JSONL, TensorBoard (read back by an independent decoder) and W&B
// (against a loopback stand-in for its API), including a resume.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readEventFile, scalarsAfterPurge } from '../fixtures/loggers/tfevents-decoder.js';
import { startFakeWandb } from '../helpers/fake-wandb.js';
import { runCli, tinyDinoArgs } from '../helpers/run-cli.js';

test('jsonl, tensorboard and wandb record the same run, and a resume continues them', async () => {
  const fake = await startFakeWandb();
  try {
    const env = { WANDB_BASE_URL: fake.url, WANDB_API_KEY: 'k'.repeat(40), WANDB_MODE: '' };
    const tmp = mkdtempSync(join(tmpdir(), 'dt-loggers-'));
    const a = join(tmp, 'a');
    const r = await runCli(tinyDinoArgs(a, ['--loggers', 'jsonl,tensorboard,wandb']), env);
    assert.equal(r.code, 0, r.stderr);

    const jsonl = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(jsonl.map((x) => x.step), [1, 2, 3, 4, 5, 6]);

    const files = readdirSync(a).filter((f) => f.startsWith('events.out.tfevents.')).sort().map((f) => readEventFile(join(a, f)));
    assert.equal(files[0].tornBytes, 0);
    const tb = scalarsAfterPurge(files);
    for (const row of jsonl) assert.ok(Math.abs(tb.get('loss')!.get(row.step)! - row.loss) < 1e-6 * Math.abs(row.loss));
    const images = files[0].events.flatMap((e) => e.summary?.value ?? []).filter((v: { image?: unknown }) => v.image);
    assert.equal(images.length, 1);
    const texts = files[0].events.flatMap((e) => e.summary?.value ?? []).filter((v: { tag?: string }) => /config/.test(v.tag ?? ''));
    assert.ok(texts.length >= 1);

    const runs = Object.values(fake.runs);
    assert.equal(runs.length, 1);
    const run = runs[0];
    assert.equal(run.complete, true);
    assert.equal((run.config as Record<string, { value: unknown }>).method?.value ?? (run.config as Record<string, unknown>).method, 'dino');
    const steps = run.history.map((h) => h._step);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
    for (const h of run.history) assert.ok(Math.abs((h.loss as number) - jsonl.find((x) => x.step === h._step)!.loss) < 1e-9);

    // resume from step 3: jsonl has each step once; TensorBoard hides the first run's steps >= 3
    const b = join(tmp, 'b');
    mkdirSync(join(b, 'checkpoints'), { recursive: true });
    cpSync(join(a, 'checkpoints/step-3'), join(b, 'checkpoints/last'), { recursive: true });
    for (const f of readdirSync(a).filter((f) => f === 'metrics.jsonl' || f.startsWith('events.'))) cpSync(join(a, f), join(b, f));
    const rb = await runCli(tinyDinoArgs(b, ['--resume', '--loggers', 'jsonl,tensorboard']), env);
    assert.equal(rb.code, 0, rb.stderr);
    const jb = readFileSync(join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(jb.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
    const tbb = scalarsAfterPurge(readdirSync(b).filter((f) => f.startsWith('events.')).sort().map((f) => readEventFile(join(b, f))));
    assert.deepEqual([...tbb.get('loss')!.keys()].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    for (const row of jb) assert.ok(Math.abs(tbb.get('loss')!.get(row.step)! - row.loss) < 1e-6 * Math.abs(row.loss));
  } finally {
    await fake.close();
  }
});

test('wandb without an API key fails before training starts', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'dt-loggers-')), 'run');
  const r = await runCli(tinyDinoArgs(out, ['--loggers', 'jsonl,wandb']), { WANDB_API_KEY: '', WANDB_MODE: '', HOME: out + '-home' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WANDB_API_KEY/);
  assert.doesNotMatch(r.stderr, /step 1\//);
});
