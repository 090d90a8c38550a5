// Every writer on short writes and on a full disk: a short write is continued (the file comes out whole), a failed
// one leaves no partial or temporary file, keeps the previous file, and becomes one FileWriteError naming the path.
// The disk is filled by the file-system layer itself: FileHandle.write (async writers) and fs.writeSync (logs) are
// replaced for the duration of a call, or a log file is pointed at /dev/full.
import assert from 'node:assert/strict';
import fs, { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import { writeEmbeddings } from '../../src/embed/write-embeddings.js';
import { writeBackboneOnnx, writeBackboneSafetensors } from '../../src/export/backbone-files.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { FanoutLogger } from '../../src/loggers/fanout.js';
import { JsonlLogger } from '../../src/loggers/jsonl.js';
import { TensorBoardLogger } from '../../src/loggers/tensorboard.js';
import { loadCheckpoint, saveCheckpoints } from '../../src/train/checkpoint.js';
import { createLog, logToFile } from '../../src/util/log.js';
import { FileWriteError, writeFileAtomic } from '../../src/util/write-file.js';
import { createMethod } from '../helpers/methods.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-write-failures-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ENOSPC = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });

/** Runs `body` while FileHandle.write writes at most `chunk` bytes per call and fails with ENOSPC after `limit` bytes. */
async function withDisk<T>(o: { chunk?: number; limit?: number }, body: () => Promise<T>): Promise<T> {
  const probe = await open(join(tmp, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<{ bytesWritten: number }> };
  await probe.close();
  const original = proto.write;
  let written = 0;
  proto.write = async function (this: unknown, ...a: unknown[]) {
    const [buffer, offset = 0, length = (buffer as Uint8Array).byteLength - (offset as number), position] = a as [Uint8Array, number?, number?, number?];
    if (o.limit !== undefined && written >= o.limit) throw ENOSPC();
    const n = Math.min(length, o.chunk ?? length, o.limit !== undefined ? o.limit - written : length);
    written += n;
    return original.call(this, buffer, offset, n, position);
  };
  try {
    return await body();
  } finally {
    proto.write = original;
  }
}

/** Runs `body` while fs.writeSync (the logs' writes) fails with ENOSPC. */
function withFullDiskSync(body: () => void): void {
  const original = fs.writeSync;
  (fs as { writeSync: unknown }).writeSync = () => {
    throw ENOSPC();
  };
  syncBuiltinESMExports();
  try {
    body();
  } finally {
    (fs as { writeSync: unknown }).writeSync = original;
    syncBuiltinESMExports();
  }
}

async function expectFull(p: Promise<unknown>, path: string): Promise<FileWriteError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof FileWriteError, `expected a FileWriteError, got ${String(e)}`);
  assert.equal(e.exitCode, 1);
  assert.ok(e.message.includes(path), e.message);
  assert.match(e.message, /no space left on device \(ENOSPC\)/);
  return e;
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp-'));

test('writeFileAtomic: short writes are continued; a full disk keeps the previous file and leaves no temporary', async () => {
  const path = join(tmp, 'atomic', 'f.bin');
  const data = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);
  await withDisk({ chunk: 7 }, () => writeFileAtomic(path, [data.subarray(0, 3333), data.subarray(3333)]));
  assert.deepEqual(new Uint8Array(readFileSync(path)), data);
  await expectFull(withDisk({ limit: 5000 }, () => writeFileAtomic(path, new Uint8Array(20_000))), path);
  assert.deepEqual(new Uint8Array(readFileSync(path)), data, 'the previous file is untouched');
  assert.deepEqual(leftovers(join(tmp, 'atomic')), []);
});

test('unwritable places: a path under a file is one line naming it, exit 2', async () => {
  writeFileSync(join(tmp, 'a-file'), 'x');
  const e = await writeFileAtomic(join(tmp, 'a-file', 'sub', 'out.csv'), 'x').then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof FileWriteError);
  assert.equal(e.exitCode, 2);
  assert.match(e.message, /cannot write .*a-file\/sub\/out\.csv: a part of the path is a file, not a folder \(ENOTDIR\)/);
});

test('embed: csv, jsonl and npy (with its file list) on a full disk fail whole, naming the file', async () => {
  const files = Array.from({ length: 300 }, (_, i) => `img-${i}.jpg`);
  const data = Float32Array.from({ length: 300 * 64 }, (_, i) => Math.sin(i));
  for (const ext of ['csv', 'jsonl', 'npy']) {
    const dir = join(tmp, `embed-${ext}`);
    const out = join(dir, `emb.${ext}`);
    await withDisk({ chunk: 100 }, () => writeEmbeddings(out, files, data, 64));
    const whole = readFileSync(out);
    await expectFull(withDisk({ limit: 20_000 }, () => writeEmbeddings(out, files, data, 64)), out);
    assert.deepEqual(readFileSync(out), whole, `${ext}: the previous file is untouched`);
    assert.deepEqual(leftovers(dir), []);
  }
  // the .npy is written but its file list does not fit: neither is left behind
  const dir = join(tmp, 'embed-npy-list');
  const out = join(dir, 'emb.npy');
  await expectFull(withDisk({ limit: 300 * 64 * 4 + 200 }, () => writeEmbeddings(out, files, data, 64)), join(dir, 'emb.files.txt'));
  assert.deepEqual(readdirSync(dir), []);
});

test('export: backbone.safetensors and backbone.onnx on a full disk leave no file and no temporary', async () => {
  const cfg = resolvePretrainConfig(readConfigFile('test/fixtures/tiny-dino.yaml'), { data: 'examples/images', out: join(tmp, 'x') });
  const m = createMethod(cfg);
  const w = m.backbone('teacher');
  const dir = join(tmp, 'export');
  mkdirSync(dir);
  await expectFull(withDisk({ limit: 10_000 }, () => writeBackboneSafetensors(join(dir, 'backbone.safetensors'), m.model, w, 'dino')), join(dir, 'backbone.safetensors'));
  await expectFull(
    withDisk({ limit: 10_000 }, () => writeBackboneOnnx(join(dir, 'backbone.onnx'), m.model, w, { imageSize: 32, method: 'dino', mean: [0, 0, 0], std: [1, 1, 1], threads: 1 })),
    join(dir, 'backbone.onnx'),
  );
  assert.deepEqual(readdirSync(dir), []);
  await withDisk({ chunk: 1000 }, () => writeBackboneSafetensors(join(dir, 'backbone.safetensors'), m.model, w, 'dino'));
  assert.equal((await readSafetensors(join(dir, 'backbone.safetensors'))).tensors.size, w.tensors.size);
});

test('checkpoint: a full disk names the folder, keeps the previous checkpoint loadable and leaves no temporary folder', async () => {
  const cfg = resolvePretrainConfig(readConfigFile('test/fixtures/tiny-dino.yaml'), { data: 'examples/images', out: join(tmp, 'x') });
  const m = createMethod(cfg);
  const root = join(tmp, 'ck', 'checkpoints');
  const contents = (step: number) => ({
    tensors: m.stateTensors(),
    optimizer: { tensors: new Map(), metadata: { optimizer: 'adamw' } },
    state: { step, epoch: 0, config: cfg },
  });
  await saveCheckpoints(root, contents(3), 3);
  const e = await expectFull(withDisk({ limit: 100_000 }, () => saveCheckpoints(root, contents(6), 3)), join(root, 'last'));
  assert.match(e.message, /^cannot write checkpoint .*: no space left on device \(ENOSPC\); the previous checkpoint is intact$/);
  assert.deepEqual(readdirSync(root).sort(), ['last', 'step-3']);
  assert.equal((await loadCheckpoint(join(root, 'last'))).state.step, 3);
});

test('metrics: jsonl (pointed at /dev/full) and TensorBoard on a full disk throw a FileWriteError the fan-out passes on', async () => {
  const dir = join(tmp, 'logs');
  mkdirSync(dir);
  symlinkSync('/dev/full', join(dir, 'metrics.jsonl'));
  const jsonl = new JsonlLogger({ outDir: dir });
  const fan = new FanoutLogger([{ name: 'jsonl', logger: jsonl }], () => assert.fail('not a warning'));
  assert.throws(() => fan.scalars(1, { loss: 1 }), (e: unknown) => e instanceof FileWriteError && /metrics\.jsonl: no space left on device/.test(e.message));
  await jsonl.close();

  const tbDir = join(tmp, 'tb');
  const tb = new TensorBoardLogger({ outDir: tbDir });
  const fan2 = new FanoutLogger([{ name: 'tensorboard', logger: tb }], () => assert.fail('not a warning'));
  withFullDiskSync(() => {
    assert.throws(() => fan2.scalars(1, { loss: 1 }), (e: unknown) => e instanceof FileWriteError && e.message.includes(tb.path) && e.exitCode === 1);
  });
  await tb.close();
});

test('train.log on a full disk: one warning naming it, the run goes on logging to stderr', () => {
  const dir = join(tmp, 'trainlog');
  mkdirSync(dir);
  symlinkSync('/dev/full', join(dir, 'train.log'));
  const log = createLog({ format: 'json', level: 'info' });
  logToFile(log, join(dir, 'train.log'));
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  (process.stderr as { write: unknown }).write = (s: string) => (written.push(String(s)), true);
  try {
    log.info('first');
    log.info('second');
  } finally {
    (process.stderr as { write: unknown }).write = write;
  }
  const warnings = written.filter((l) => l.includes('train.log stops here'));
  assert.equal(warnings.length, 1, written.join(''));
  assert.match(warnings[0], /cannot write .*train\.log: no space left on device \(ENOSPC\)/);
  assert.ok(existsSync(join(dir, 'train.log')));
});
