import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  createLoggers, defaultLoggerNames, loggerNames, loggersConfigSchema, parseLoggerNames, resolveWandbEnv,
} from '../../src/loggers/index.js';
import { FanoutLogger } from '../../src/loggers/fanout.js';
import type { Logger } from '../../src/loggers/logger.js';
import { UserError } from '../../src/util/errors.js';
import { readEventFile } from '../fixtures/loggers/tfevents-decoder.js';

const tmp = mkdtempSync(join(tmpdir(), 'loggers-create-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const png = readFileSync(new URL('../fixtures/loggers/views.png', import.meta.url));

test('names: the three loggers, jsonl+tensorboard by default, comma lists, unknown ones refused', () => {
  assert.deepEqual([...loggerNames], ['jsonl', 'tensorboard', 'wandb']);
  assert.deepEqual(defaultLoggerNames, ['jsonl', 'tensorboard']);
  assert.deepEqual(parseLoggerNames('jsonl, TensorBoard,jsonl'), ['jsonl', 'tensorboard']);
  assert.deepEqual(parseLoggerNames(['wandb', 'jsonl']), ['wandb', 'jsonl']);
  assert.throws(
    () => parseLoggerNames(['jsonl', 'mlflow']),
    (e: unknown) =>
      e instanceof UserError && e.exitCode === 2 && /"mlflow"/.test(e.message) && /jsonl, tensorboard, wandb/.test(e.message),
  );
});

test('an unknown logger fails createLoggers before any file is written', async () => {
  const out = join(tmp, 'unknown');
  await assert.rejects(createLoggers(['jsonl', 'csv'], { outDir: out, onWarning: () => {} }), UserError);
  assert.ok(!existsSync(out));
});

test('config schema: strict objects with defaults', () => {
  assert.deepEqual(loggersConfigSchema.parse({}), {
    jsonl: {}, tensorboard: {}, wandb: { project: 'dinotrain', tags: [] },
  });
  const full = { jsonl: {}, tensorboard: {}, wandb: { project: 'p', entity: 'e', name: 'n', tags: ['a'], group: 'g' } };
  assert.deepEqual(loggersConfigSchema.parse(full), full);
  assert.equal(loggersConfigSchema.safeParse({ csv: {} }).success, false);
  assert.equal(loggersConfigSchema.safeParse({ jsonl: { path: 'x' } }).success, false);
  assert.equal(loggersConfigSchema.safeParse({ wandb: { projekt: 'p' } }).success, false);
  assert.equal(loggersConfigSchema.safeParse({ wandb: { tags: 'a' } }).success, false);
});

test('the fan-out logger drives jsonl and tensorboard like a trainer', async () => {
  const out = join(tmp, 'both');
  const warnings: string[] = [];
  const logger = await createLoggers(['jsonl', 'tensorboard'], { outDir: out, onWarning: (m) => warnings.push(m) });
  await logger.hparams({ lr: 0.1, model: { name: 'vit' } });
  logger.image('views', 0, png);
  logger.text?.('note', 0, 'hi');
  for (let s = 0; s < 50; s++) logger.scalars(s, { loss: 50 - s });
  await logger.close();
  await logger.close();
  assert.deepEqual(warnings, []);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 50);
  const [events] = readdirSync(out).filter((n) => n.startsWith('events.'));
  const decoded = readEventFile(join(out, events!));
  const tags = decoded.events.flatMap((e) => (e.summary?.value ?? []).map((v: { tag: string }) => v.tag));
  assert.deepEqual(new Set(tags), new Set(['config', '_hparams_/session_start_info', 'views', 'note', 'loss']));
  assert.equal(tags.filter((t) => t === 'loss').length, 50);
});

test('a logger that throws costs one warning (and a count at close), not the others', async () => {
  const seen: number[] = [];
  const good: Logger = { hparams() {}, scalars: (s) => void seen.push(s), image() {}, close: async () => {} };
  const bad: Logger = {
    hparams: async () => { throw new Error('hparams broke'); },
    scalars() { throw new Error('disk full'); },
    image() { throw new Error('no'); },
    close: async () => { throw new Error('close broke'); },
  };
  const warnings: string[] = [];
  const fan = new FanoutLogger([{ name: 'bad', logger: bad }, { name: 'good', logger: good }], (m) => warnings.push(m));
  await fan.hparams({});
  for (let s = 0; s < 5; s++) fan.scalars(s, { loss: 1 });
  fan.image('v', 0, png);
  fan.text('t', 0, 'x'); // bad has no text(): fine
  await fan.close();
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.deepEqual(warnings, ['bad logger failed: hparams broke', 'bad logger: 8 errors in this run (only the first was shown).']);
});

test('a UserError from hparams (e.g. a rejected W&B key) reaches the trainer', async () => {
  const refusing: Logger = {
    hparams: async () => { throw new UserError('rejected'); }, scalars() {}, image() {}, close: async () => {},
  };
  await assert.rejects(new FanoutLogger([{ name: 'w', logger: refusing }], () => {}).hparams({}), /rejected/);
});

test('wandb without an API key fails in createLoggers, naming WANDB_API_KEY and WANDB_MODE=disabled', async () => {
  const out = join(tmp, 'nokey');
  const env = { HOME: join(tmp, 'empty-home') };
  await assert.rejects(
    createLoggers(['jsonl', 'wandb'], { outDir: out, env, onWarning: () => {} }),
    (e: unknown) => e instanceof UserError && /WANDB_API_KEY/.test(e.message) && /WANDB_MODE=disabled/.test(e.message),
  );
  assert.ok(!existsSync(out), 'nothing written before the error');
});

test('WANDB_MODE: disabled turns wandb off with a warning; offline and unknown modes are refused', async () => {
  const out = join(tmp, 'disabled');
  const warnings: string[] = [];
  const logger = await createLoggers(['jsonl', 'wandb'], { outDir: out, env: { WANDB_MODE: 'disabled' }, onWarning: (m) => warnings.push(m) });
  logger.scalars(0, { loss: 1 });
  await logger.close();
  assert.deepEqual(warnings, ['W&B logging is off (WANDB_MODE=disabled).']);
  assert.deepEqual(resolveWandbEnv({ WANDB_DISABLED: 'true' }).mode, 'disabled');
  for (const mode of ['offline', 'dryrun', 'sometimes']) {
    assert.throws(
      () => resolveWandbEnv({ WANDB_MODE: mode, WANDB_API_KEY: 'k' }),
      (e: unknown) => e instanceof UserError && /online/.test(e.message) && /disabled/.test(e.message),
    );
  }
});

test('the key comes from WANDB_API_KEY, else from ~/.netrc for the W&B host', () => {
  const home = join(tmp, 'home');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, '.netrc'), 'machine example.org login x password nope\nmachine api.wandb.ai\n  login user\n  password from-netrc\n');
  assert.deepEqual(resolveWandbEnv({ HOME: home }), { mode: 'online', apiKey: 'from-netrc', baseUrl: 'https://api.wandb.ai' });
  assert.deepEqual(resolveWandbEnv({ HOME: home, WANDB_API_KEY: 'env-key', WANDB_BASE_URL: 'http://127.0.0.1:9/' }), {
    mode: 'online', apiKey: 'env-key', baseUrl: 'http://127.0.0.1:9',
  });
  assert.throws(() => resolveWandbEnv({ HOME: home, WANDB_BASE_URL: 'https://wandb.mycorp.example' }), /WANDB_API_KEY/);
});

test('no loggers at all is a valid, silent logger', async () => {
  const logger = await createLoggers([], { outDir: join(tmp, 'none'), onWarning: () => assert.fail('no warning expected') });
  await logger.hparams({});
  logger.scalars(0, { loss: 1 });
  await logger.close();
  assert.ok(!existsSync(join(tmp, 'none')));
});
