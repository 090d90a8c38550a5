// --overwrite removes only what a dinotrain run wrote, compares real paths (symlinks resolved) of every input with the
// output folder, and a start that fails leaves the folder as it was.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, tinyDinoArgs } from '../helpers/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-out-dir-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A dataset folder of 12 of the bundled photos plus a notes file: what a user owns. */
function userData(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync('examples/images').slice(0, 12)) cpSync(join('examples/images', f), join(dir, f));
  writeFileSync(join(dir, 'notes.txt'), 'my labels\n');
  return dir;
}

const listing = (dir: string) => readdirSync(dir).sort();
const short = ['--steps', '2', '--checkpoint-every', '2', '--loggers', 'jsonl'];

let previousRun: string;
before(async () => {
  previousRun = join(tmp, 'previous');
  const r = await runCli(tinyDinoArgs(previousRun, short));
  assert.equal(r.code, 0, r.stderr);
});

function copyOfPreviousRun(name: string): string {
  const out = join(tmp, name);
  cpSync(previousRun, out, { recursive: true });
  return out;
}

test('--out reached through a symlink that holds --data: refused, nothing deleted', async () => {
  const s = join(tmp, 'S');
  const data = userData(join(s, 'ds'));
  symlinkSync(s, join(tmp, 'L'));
  const before = listing(data);
  const r = await runCli(tinyDinoArgs(join(tmp, 'L'), ['--data', data, '--overwrite', ...short]));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--overwrite would clear .*L, which holds --data .*ds/);
  assert.deepEqual(listing(data), before);
  assert.equal(readFileSync(join(data, 'notes.txt'), 'utf8'), 'my labels\n');
});

test('--out inside the data folder (through a symlink): refused with --overwrite', async () => {
  const data = userData(join(tmp, 'D2'));
  mkdirSync(join(data, 'runs'));
  symlinkSync(join(data, 'runs'), join(tmp, 'runs-link'));
  const r = await runCli(tinyDinoArgs(join(tmp, 'runs-link'), ['--data', data, '--overwrite', ...short]));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /lies inside --data/);
  assert.ok(existsSync(join(data, 'notes.txt')));
});

test('inputs inside --out (init weights, a labelled folder, the config file) are refused, nothing deleted', async () => {
  const out = copyOfPreviousRun('inputs');
  const weights = join(out, 'exported_models', 'backbone.safetensors');
  const w = await runCli(tinyDinoArgs(out, ['--overwrite', '--init-weights', weights, ...short]));
  assert.equal(w.code, 2, w.stderr);
  assert.match(w.stderr, /holds --init-weights/);
  assert.ok(existsSync(weights));

  const config = join(out, 'config.json');
  const c = await runCli(['pretrain', '--config', config, '--data', 'examples/images', '--out', out, '--overwrite', ...short]);
  assert.equal(c.code, 2, c.stderr);
  assert.match(c.stderr, /holds --config/);
  assert.ok(existsSync(config));

  mkdirSync(join(tmp, 'val', 'a'), { recursive: true });
  const v = await runCli(tinyDinoArgs(out, ['--overwrite', '--val-data', `train=${join(out, 'checkpoints')},val=${join(tmp, 'val')}`, ...short]));
  assert.equal(v.code, 2, v.stderr);
  assert.match(v.stderr, /holds val_data\.train/);
  assert.deepEqual(listing(out), listing(previousRun));
});

test("a config file's out with overwrite: true: a folder holding other files is refused and listed, not emptied", async () => {
  const somewhere = join(tmp, 'somewhere');
  mkdirSync(join(somewhere, 'photos'), { recursive: true });
  writeFileSync(join(somewhere, 'thesis.tex'), 'chapter 1');
  writeFileSync(join(somewhere, 'photos', 'a.jpg'), 'x');
  const cfg = join(tmp, 'deep', 'er');
  mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cfg, 'run.yaml'), `out: ../../somewhere\noverwrite: true\n`);
  const r = await runCli(['pretrain', '--config', 'test/fixtures/tiny-dino.yaml', '--data', 'examples/images', '--out', join(cfg, '..', '..', 'somewhere'), '--overwrite', ...short]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /removes only what a dinotrain run writes, and .*somewhere holds other files: photos, thesis\.tex/);
  assert.deepEqual(listing(somewhere), ['photos', 'thesis.tex']);
});

test('--overwrite replaces a previous run: its files go, the new run is complete', async () => {
  const out = copyOfPreviousRun('replace');
  writeFileSync(join(out, 'metrics.jsonl.tmp-123-0'), 'torn'); // a temporary file a killed run left
  const r = await runCli(tinyDinoArgs(out, ['--overwrite', '--steps', '3', '--checkpoint-every', '3', '--loggers', 'jsonl']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--overwrite: replacing the previous run/);
  assert.ok(!existsSync(join(out, 'checkpoints', 'step-2')), "the previous run's numbered checkpoint is gone");
  assert.ok(existsSync(join(out, 'checkpoints', 'step-3')));
  assert.ok(!readdirSync(out).some((n) => n.includes('.tmp-') || n.startsWith('.previous-run')));
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
});

test('a start that fails after the checks (all images unreadable) leaves a new --out uncreated and an old run intact', async () => {
  const bad = join(tmp, 'bad-images');
  mkdirSync(bad);
  for (let i = 0; i < 6; i++) writeFileSync(join(bad, `img-${i}.jpg`), 'not a jpeg at all');
  const fresh = join(tmp, 'never-made');
  const r = await runCli(tinyDinoArgs(fresh, ['--data', bad, ...short]));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /No readable image/);
  assert.ok(!existsSync(fresh));

  const out = copyOfPreviousRun('kept');
  const o = await runCli(tinyDinoArgs(out, ['--data', bad, '--overwrite', ...short]));
  assert.equal(o.code, 2, o.stderr);
  assert.deepEqual(listing(out), listing(previousRun));
  assert.equal(readFileSync(join(out, 'metrics.jsonl'), 'utf8'), readFileSync(join(previousRun, 'metrics.jsonl'), 'utf8'));
});

test('a missing W&B key fails before anything is written; the same command works once it is fixed', async () => {
  const out = copyOfPreviousRun('wandb');
  const env = { WANDB_API_KEY: '', WANDB_MODE: '', HOME: tmp };
  const r = await runCli(tinyDinoArgs(out, ['--overwrite', '--loggers', 'jsonl,wandb', '--steps', '2']), env);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WANDB_API_KEY/);
  assert.deepEqual(listing(out), listing(previousRun));
  const fixed = await runCli(tinyDinoArgs(out, ['--overwrite', '--loggers', 'jsonl,wandb', '--steps', '2']), { ...env, WANDB_MODE: 'disabled' });
  assert.equal(fixed.code, 0, fixed.stderr);
});
