import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { JsonlLogger, METRICS_FILE } from '../../src/loggers/jsonl.js';

const tmp = mkdtempSync(join(tmpdir(), 'loggers-jsonl-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const rows = (dir: string) =>
  readFileSync(join(dir, METRICS_FILE), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('one object per logged step, step first; hparams, images and text stay out of it', async () => {
  const out = join(tmp, 'plain');
  const logger = new JsonlLogger({ outDir: out });
  logger.hparams();
  logger.image();
  for (let s = 0; s < 50; s++) logger.scalars(s, { loss: 1 / (s + 1), lr: 0.01, epoch: Math.floor(s / 10) });
  await logger.close();
  logger.scalars(50, { loss: 0 }); // after close: ignored
  const text = readFileSync(join(out, METRICS_FILE), 'utf8');
  assert.ok(text.startsWith('{"step":0,"loss":1,"lr":0.01,"epoch":0}\n'));
  const got = rows(out);
  assert.equal(got.length, 50);
  got.forEach((r, s) => assert.deepEqual(r, { step: s, loss: 1 / (s + 1), lr: 0.01, epoch: Math.floor(s / 10) }));
});

test('a non-finite value is written as null (JSON has no NaN)', async () => {
  const out = join(tmp, 'nan');
  const logger = new JsonlLogger({ outDir: out });
  logger.scalars(0, { loss: Number.NaN, lr: 1 });
  await logger.close();
  assert.deepEqual(rows(out), [{ step: 0, loss: null, lr: 1 }]);
});

test('a fresh run replaces an old metrics.jsonl', async () => {
  const out = join(tmp, 'fresh');
  const a = new JsonlLogger({ outDir: out });
  for (let s = 0; s < 5; s++) a.scalars(s, { loss: 1 });
  await a.close();
  const b = new JsonlLogger({ outDir: out });
  b.scalars(0, { loss: 2 });
  await b.close();
  assert.deepEqual(rows(out), [{ step: 0, loss: 2 }]);
});

test('resume at step 30 keeps steps < 30, drops later ones and a torn last line, then appends', async () => {
  const out = join(tmp, 'resume');
  const first = new JsonlLogger({ outDir: out });
  for (let s = 0; s < 45; s++) first.scalars(s, { loss: s });
  await first.close();
  appendFileSync(join(out, METRICS_FILE), '{"step":45,"lo'); // killed mid-line

  const resumed = new JsonlLogger({ outDir: out, resumeStep: 30 });
  for (let s = 30; s < 50; s++) resumed.scalars(s, { loss: -s });
  await resumed.close();
  const got = rows(out);
  assert.deepEqual(got.map((r) => r.step), Array.from({ length: 50 }, (_, s) => s));
  got.forEach((r) => assert.equal(r.loss, r.step < 30 ? r.step : -r.step));
  assert.ok(!existsSync(`${join(out, METRICS_FILE)}.tmp-${process.pid}`));
});

test('resume drops unparseable lines and works without an existing file', async () => {
  const out = join(tmp, 'resume-garbage');
  const fresh = new JsonlLogger({ outDir: out, resumeStep: 3 });
  await fresh.close();
  assert.equal(readFileSync(join(out, METRICS_FILE), 'utf8'), '');
  writeFileSync(join(out, METRICS_FILE), '{"step":0}\nnot json\n{"nostep":1}\n{"step":1}\n{"step":7}\n');
  const resumed = new JsonlLogger({ outDir: out, resumeStep: 3 });
  resumed.scalars(3, { loss: 1 });
  await resumed.close();
  assert.deepEqual(rows(out), [{ step: 0 }, { step: 1 }, { step: 3, loss: 1 }]);
});
