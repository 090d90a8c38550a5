// Checkpoint save/load round trip, crash recovery states, clear errors, and the settings a resume compares.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AdamW } from '../../src/engine/adamw.js';
import { ParamStore } from '../../src/engine/param-store.js';
import {
  type CheckpointContents,
  CHECKPOINT_FORMAT_VERSION,
  loadCheckpoint,
  saveCheckpoint,
  saveCheckpoints,
} from '../../src/train/checkpoint.js';
import { describeSetting, settingDifferences } from '../../src/train/resume.js';
import { UserError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const root = mkdtempSync(join(tmpdir(), 'dinotrain-ckpt-'));
after(() => rmSync(root, { recursive: true, force: true }));

const specs = [
  { name: 'patch_embed.proj.weight', shape: [8, 3, 2, 2], weightDecay: true, lrScale: 0.2 },
  { name: 'cls_token', shape: [1, 1, 8], weightDecay: false },
  { name: 'head.last_layer.weight', shape: [16, 8], weightDecay: true },
];
const config = { model: 'vit-tiny/16', method: 'dino', method_args: { output_dim: 16, hidden_dim: 32 }, optim: { name: 'adamw', lr: 1e-3 } };

/** A small trained state: student, teacher, AdamW after a few steps. */
function makeRun(seed: number) {
  const rng = new Rng(seed);
  const student = new ParamStore(specs);
  for (let i = 0; i < student.size; i++) student.flat[i] = rng.normal();
  const teacher = student.clone();
  const opt = new AdamW(student, { lr: 1e-2, weightDecay: 0.04 });
  const grads = student.createGradients();
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < grads.flat.length; i++) grads.flat[i] = rng.normal();
    opt.step(grads.flat);
  }
  const contents: CheckpointContents = {
    tensors: new Map([...student.toMap('student.'), ...teacher.toMap('teacher.')]),
    optimizer: opt.exportState(),
    state: { step: seed, epoch: 1, config, schedules: { lr: 1e-3, momentum: 0.996 } },
  };
  return { student, teacher, opt, contents };
}

test('round trip: parameters, optimizer state and state.json; step-N snapshots share files', async () => {
  const run = makeRun(4);
  const ckRoot = join(root, 'rt');
  const written = await saveCheckpoints(ckRoot, run.contents, 2);
  assert.deepEqual(written, [join(ckRoot, 'last'), join(ckRoot, 'step-4')]);
  // step-4 is hard links to last's files; the next save of last writes new files and leaves step-4 alone
  assert.equal(statSync(join(ckRoot, 'step-4', 'model.safetensors')).ino, statSync(join(ckRoot, 'last', 'model.safetensors')).ino);
  assert.deepEqual(await saveCheckpoints(ckRoot, { ...run.contents, state: { ...run.contents.state, step: 5 } }, 2), [join(ckRoot, 'last')]);
  assert.equal((await loadCheckpoint(join(ckRoot, 'last'))).state.step, 5);

  const ck = await loadCheckpoint(join(ckRoot, 'step-4'));
  assert.equal(ck.state.formatVersion, CHECKPOINT_FORMAT_VERSION);
  assert.equal(typeof ck.state.dinotrainVersion, 'string');
  assert.equal(ck.state.step, 4);
  assert.deepEqual(ck.state.config, config);
  assert.deepEqual(ck.state.schedules, run.contents.state.schedules);

  const student = new ParamStore(specs);
  const teacher = new ParamStore(specs);
  student.loadFrom(ck.tensors, 'student.');
  teacher.loadFrom(ck.tensors, 'teacher.');
  assert.deepEqual(student.flat, run.student.flat);
  assert.deepEqual(teacher.flat, run.teacher.flat);
  const opt = new AdamW(student, { lr: 1e-2, weightDecay: 0.04 });
  opt.importState(ck.optimizer);
  assert.deepEqual(opt.m.flat, run.opt.m.flat);
  assert.deepEqual(opt.v.flat, run.opt.v.flat);
  assert.deepEqual(opt.steps, run.opt.steps);
  // the restored optimizer takes the same next step
  const g = student.createGradients();
  g.flat.fill(0.5);
  opt.step(g.flat);
  run.opt.step(g.flat);
  assert.deepEqual(student.flat, run.student.flat);
  assert.equal(ck.tensors.get('student.head.last_layer.weight')!.dtype, 'F32');
});

test('recovers from a crash between the two renames, and from one before the old copy was deleted', async () => {
  const dir = join(root, 'rec');
  const last = join(dir, 'last');
  await saveCheckpoint(last, makeRun(1).contents);
  await saveCheckpoint(join(dir, 'other'), makeRun(2).contents);
  // crash between the renames: last -> last.old done, complete temporary not yet renamed into place
  renameSync(last, `${last}.old`);
  renameSync(join(dir, 'other'), join(dir, `last.tmp-99999-0`));
  assert.equal(existsSync(last), false);
  const ck = await loadCheckpoint(`${last}/`);
  assert.equal(ck.state.step, 1);
  assert.deepEqual(readdirSync(dir).sort(), ['last', 'last.tmp-99999-0']);
  // the next save removes the stale temporary
  await saveCheckpoint(last, makeRun(3).contents);
  assert.deepEqual(readdirSync(dir), ['last']);
  assert.equal((await loadCheckpoint(last)).state.step, 3);

  // crash after the second rename, before deleting the old copy: the new one wins, the old one is removed
  cpSync(last, `${last}.old`, { recursive: true });
  writeFileSync(join(`${last}.old`, 'state.json'), '{"truncated');
  assert.equal((await loadCheckpoint(last)).state.step, 3);
  assert.deepEqual(readdirSync(dir), ['last']);
});

async function expectUserError(dir: string, message: RegExp) {
  await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof UserError && message.test(e.message));
}

test('missing, incomplete, corrupt and future-version checkpoints are clear UserErrors', async () => {
  await expectUserError(join(root, 'nope'), /checkpoint directory .*nope does not exist/);
  const make = async (name: string) => {
    const dir = join(root, 'bad', name);
    await saveCheckpoint(dir, makeRun(7).contents);
    return dir;
  };
  const noOpt = await make('no-opt');
  unlinkSync(join(noOpt, 'optimizer.safetensors'));
  await expectUserError(noOpt, /incomplete: optimizer\.safetensors is missing/);

  const badJson = await make('bad-json');
  writeFileSync(join(badJson, 'state.json'), '{"step": 3,');
  await expectUserError(badJson, /corrupt state\.json/);

  const future = await make('future');
  const state = JSON.parse(readFileSync(join(future, 'state.json'), 'utf8'));
  writeFileSync(join(future, 'state.json'), JSON.stringify({ ...state, formatVersion: 99, dinotrainVersion: '9.0.0' }));
  await expectUserError(future, /format version 99 \(written by dinotrain 9\.0\.0\).*reads format version 1/);

  const truncated = await make('truncated');
  truncateSync(join(truncated, 'model.safetensors'), statSync(join(truncated, 'model.safetensors')).size - 10);
  await expectUserError(truncated, /model\.safetensors is not a valid safetensors file/);

  const notDir = join(root, 'bad', 'file');
  writeFileSync(notDir, 'x');
  await expectUserError(notDir, /is not a directory/);
});

test('settingDifferences names every changed setting with both values; where and how a run starts does not count', () => {
  const now = { ...config, out: 'elsewhere', resume: true, model: 'vit-small/16', method_args: { output_dim: 32, hidden_dim: 32 } };
  assert.deepEqual(settingDifferences(config, now).map(describeSetting), [
    'model: "vit-tiny/16" in the checkpoint, "vit-small/16" now',
    'method_args.output_dim: 16 in the checkpoint, 32 now',
  ]);
  assert.deepEqual(settingDifferences({ a: { b: [1, 2] } }, { a: { b: [1, 3], c: 1 } }).map(describeSetting), [
    'a.b: [1,2] in the checkpoint, [1,3] now',
    'a.c: unset in the checkpoint, 1 now',
  ]);
});
