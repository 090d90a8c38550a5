import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { createLoggers, type CreateLoggersOptions } from '../../src/loggers/create.js';
import { WandbLogger, type WandbLoggerOptions } from '../../src/loggers/wandb.js';
import { UserError } from '../../src/util/errors.js';
import { type FakeWandb, type FakeWandbOptions, startFakeWandb } from '../helpers/fake-wandb.js';
import { readEventFile, scalarsAfterPurge } from '../fixtures/loggers/tfevents-decoder.js';

const tmp = mkdtempSync(join(tmpdir(), 'loggers-wandb-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const png = readFileSync(new URL('../fixtures/loggers/views.png', import.meta.url));
const KEY = 'k'.repeat(40);
const CONFIG = { method: 'dino', optim: { lr: 0.0005, betas: [0.9, 0.999] }, epochs: 3 };
const values = (s: number) => ({ loss: 10 / (s + 1), lr: 0.001 * s, epoch: Math.floor(s / 20) });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function withFake<T>(opts: FakeWandbOptions, body: (fake: FakeWandb) => Promise<T>): Promise<T> {
  const fake = await startFakeWandb(opts);
  try {
    return await body(fake);
  } finally {
    await fake.close();
  }
}

function directLogger(fake: FakeWandb, warnings: string[], extra: Partial<WandbLoggerOptions> = {}): WandbLogger {
  return new WandbLogger({
    run: { project: 'p', tags: [] },
    apiKey: KEY,
    baseUrl: fake.url,
    onWarning: (m) => warnings.push(m),
    initTimeoutMs: 20_000,
    finishTimeoutMs: 20_000,
    ...extra,
  });
}

const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe('wandb logger against a loopback W&B stand-in', { concurrency: 4 }, () => {
  test('config, 50 history rows with _step, summary, tags, group, completion; no signal handlers here', async () => {
    await withFake({}, async (fake) => {
      const out = join(tmp, 'happy');
      const warnings: string[] = [];
      const infos: string[] = [];
      const sigintBefore = process.listenerCount('SIGINT');
      const opts: CreateLoggersOptions = {
        outDir: out,
        wandb: { project: 'dino-tests', name: 'run-1', tags: ['cpu', 'tiny'], group: 'sweep-a' },
        env: { WANDB_API_KEY: KEY, WANDB_BASE_URL: fake.url },
        onWarning: (m) => warnings.push(m),
        onInfo: (m) => infos.push(m),
      };
      const logger = await createLoggers(['jsonl', 'tensorboard', 'wandb'], opts);
      await logger.hparams(CONFIG);
      logger.image('views', 0, png);
      for (let s = 0; s < 50; s++) logger.scalars(s, values(s));
      const t0 = Date.now();
      await logger.close();
      assert.ok(Date.now() - t0 < 10_000);
      assert.equal(process.listenerCount('SIGINT'), sigintBefore);
      assert.deepEqual(warnings, []);

      const [id, run] = Object.entries(fake.runs)[0]!;
      assert.equal(Object.keys(fake.runs).length, 1);
      assert.deepEqual(infos, [`W&B run: ${fake.url}/fake-entity/dino-tests/runs/${id}`]);
      assert.deepEqual(run.config, CONFIG);
      assert.equal(run.project, 'dino-tests');
      assert.equal(run.entity, 'fake-entity');
      assert.equal(run.displayName, 'run-1');
      assert.deepEqual(run.tags, ['cpu', 'tiny']);
      assert.equal(run.groupName, 'sweep-a');
      assert.equal(run.history.length, 50);
      run.history.forEach((row, s) => {
        assert.equal(row._step, s);
        for (const [k, v] of Object.entries(values(s))) assert.equal(row[k], v);
      });
      assert.equal(run.summary._step, 49);
      assert.equal(run.summary.loss, values(49).loss);
      assert.deepEqual([run.complete, run.exitcode], [true, 0]);
      const auth = `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`;
      assert.ok(fake.calls.every((c) => c.auth === auth));
    });
  });

  test('resume at step 30 starts a new W&B run whose history continues at _step 30', async () => {
    await withFake({}, async (fake) => {
      const warnings: string[] = [];
      const logger = await createLoggers(['wandb'], {
        outDir: join(tmp, 'resume'), resumeStep: 30, env: { WANDB_API_KEY: KEY, WANDB_BASE_URL: fake.url },
        onWarning: (m) => warnings.push(m),
      });
      await logger.hparams(CONFIG);
      for (let s = 30; s < 50; s++) logger.scalars(s, values(s));
      await logger.close();
      const run = Object.values(fake.runs)[0]!;
      assert.equal(run.displayName, 'resume'); // default name: the output directory's
      assert.deepEqual(run.history.map((r) => r._step), range(30, 50));
      assert.ok(run.complete);
      assert.deepEqual(warnings, []);
    });
  });

  test('file_stream answering 500 mid-run: warnings, bounded close, jsonl and tensorboard keep every step', async () => {
    await withFake({ fileStream: (n) => (n === 0 ? 'ok' : 500) }, async (fake) => {
      const out = join(tmp, 'http500');
      const warnings: string[] = [];
      const logger = await createLoggers(['jsonl', 'tensorboard', 'wandb'], {
        outDir: out, env: { WANDB_API_KEY: KEY, WANDB_BASE_URL: fake.url }, onWarning: (m) => warnings.push(m),
        wandbFinishTimeoutMs: 8_000,
      });
      await logger.hparams(CONFIG);
      for (let s = 0; s < 25; s++) logger.scalars(s, values(s));
      await new Promise((r) => setTimeout(r, 2_300)); // the SDK streams every 2 s: let one post fail
      for (let s = 25; s < 50; s++) logger.scalars(s, values(s));
      const t0 = Date.now();
      await logger.close();
      assert.ok(Date.now() - t0 < 8_500);
      assert.ok(warnings.length >= 1 && warnings.length <= 3, JSON.stringify(warnings));
      assert.match(warnings[0]!, /^W&B: the server answered HTTP 500 to POST \/files\/.*file_stream/);
      const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
      assert.deepEqual(steps, range(0, 50));
      const [ev] = readdirSync(out).filter((n) => n.startsWith('events.'));
      assert.deepEqual([...scalarsAfterPurge([readEventFile(join(out, ev!))]).get('loss')!.keys()], range(0, 50));
    });
  });

  test('connections dropped mid-run: warnings, close still returns', async () => {
    await withFake({ fileStream: () => 'destroy' }, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings, { finishTimeoutMs: 8_000 });
      await logger.hparams(CONFIG);
      for (let s = 0; s < 50; s++) logger.scalars(s, values(s));
      const t0 = Date.now();
      await logger.close();
      assert.ok(Date.now() - t0 < 8_500);
      assert.ok(warnings.length >= 1, 'at least one warning');
      assert.match(warnings[0]!, /^W&B: a request failed \(ECONNRESET|socket hang up/);
    });
  });

  test('a server that never answers the final upload: close gives up after its timeout', async () => {
    await withFake({ fileStream: () => 'hang' }, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings, { finishTimeoutMs: 1_500 });
      await logger.hparams(CONFIG);
      const pid = logger.pid!;
      for (let s = 0; s < 10; s++) logger.scalars(s, values(s));
      const t0 = Date.now();
      await logger.close();
      const took = Date.now() - t0;
      assert.ok(took >= 1_400 && took < 3_000, `close took ${took} ms`);
      assert.deepEqual(warnings, ['W&B did not finish uploading within 1.5 s; its run may miss the last steps.']);
      assert.ok(await waitUntil(() => !processAlive(pid), 2_000), 'worker killed');
    });
  });

  test('GraphQL 500 at init (the SDK retries for minutes): hparams returns after the init timeout, then no-op', async () => {
    await withFake({ upsert: () => 500 }, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings, { initTimeoutMs: 2_000 });
      const t0 = Date.now();
      await logger.hparams(CONFIG);
      assert.ok(Date.now() - t0 < 4_000);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^W&B did not start within 2 s; W&B logging is off, training goes on/);
      logger.scalars(0, values(0));
      const t1 = Date.now();
      await logger.close();
      assert.ok(Date.now() - t1 < 1_000);
      assert.equal(warnings.length, 1);
    });
  });

  test('a failed UpsertBucket (which kills a process running the SDK) is one warning', async () => {
    await withFake({ upsert: () => 400 }, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings);
      await logger.hparams(CONFIG);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^W&B could not start a run \(.*\); W&B logging is off/);
      logger.scalars(0, values(0));
      await logger.close();
      assert.equal(warnings.length, 1);
    });
  });

  test('a rejected API key (HTTP 401) is a UserError before the first step', async () => {
    await withFake({ viewer: () => 401 }, async (fake) => {
      const logger = directLogger(fake, []);
      await assert.rejects(logger.hparams(CONFIG), (e: unknown) => e instanceof UserError && /HTTP 401/.test(e.message));
      await logger.close();
    });
  });

  test('the worker dying mid-run is one warning; SIGINT does not reach it', async () => {
    await withFake({}, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings);
      await logger.hparams(CONFIG);
      const pid = logger.pid!;
      for (let s = 0; s < 10; s++) logger.scalars(s, values(s));
      process.kill(pid, 'SIGINT'); // as a terminal's Ctrl-C would: ignored, the parent decides
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(processAlive(pid));
      assert.deepEqual(warnings, []);
      process.kill(pid, 'SIGKILL');
      assert.ok(await waitUntil(() => warnings.length > 0, 3_000));
      for (let s = 10; s < 20; s++) logger.scalars(s, values(s));
      const t0 = Date.now();
      await logger.close();
      assert.ok(Date.now() - t0 < 1_000);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^W&B logging stopped \(its process ended: signal SIGKILL\); training goes on/);
    });
  });

  test('a training process that never calls close() still exits, and its W&B run is marked failed', async () => {
    await withFake({}, async (fake) => {
      const script = fileURLToPath(new URL('../fixtures/loggers/wandb-no-close.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), script, fake.url], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c));
      child.stderr.on('data', (c: Buffer) => (output += c));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(-1);
        }, 20_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(code, 0, `exited by itself: ${output}`);
      const workerPid = Number(/worker (\d+)/.exec(output)![1]);
      assert.ok(await waitUntil(() => Object.values(fake.runs)[0]?.complete === true, 12_000), 'orphaned run finished');
      const run = Object.values(fake.runs)[0]!;
      assert.equal(run.exitcode, 1);
      assert.deepEqual(run.history.map((r) => r._step), range(0, 5));
      assert.ok(await waitUntil(() => !processAlive(workerPid), 5_000), 'worker exited');
    });
  });
});

describe('wandb logger without hparams()', () => {
  test('scalars alone start a run; a rejected key then is a warning, never an unhandled rejection', async () => {
    await withFake({}, async (fake) => {
      const logger = directLogger(fake, []);
      for (let s = 0; s < 3; s++) logger.scalars(s, values(s));
      await logger.close();
      const run = Object.values(fake.runs)[0]!;
      assert.deepEqual(run.config, {});
      assert.deepEqual(run.history.map((r) => r._step), [0, 1, 2]);
    });
    await withFake({ viewer: () => 401 }, async (fake) => {
      const warnings: string[] = [];
      const logger = directLogger(fake, warnings);
      logger.scalars(0, values(0));
      assert.ok(await waitUntil(() => warnings.length > 0, 10_000));
      assert.match(warnings[0]!, /rejected the API key \(HTTP 401\).*W&B logging is off/);
      await logger.close();
    });
  });
});
