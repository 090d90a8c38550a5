// embedFolder + writers: preprocessing checked on solid colours in every colour mode, rows and
// names, corrupt files, determinism, and the three output formats read back.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { embedFolder } from '../../src/embed/embed-folder.js';
import { formatFloat32, writeEmbeddings } from '../../src/embed/write-embeddings.js';
import { UserError } from '../../src/util/errors.js';
import { tinyBackbone } from '../fixtures/eval/tiny-backbone.js';
import { writeLabelledSet } from '../fixtures/eval/synthetic-images.js';

const MEAN = [0.5, 0.4, 0.3];
const STD = [0.25, 0.2, 0.3];
const meanModel = tinyBackbone({ kind: 'mean', mean: MEAN, std: STD });
const convModel = tinyBackbone({ kind: 'conv' });
let dir: string;
let synthetic: string[];

function solid(width: number, height: number, channels: 1 | 3 | 4, value: number[]) {
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) px[i * channels + c] = value[c];
  return sharp(px, { raw: { width, height, channels } });
}

/** A 16-bit RGB PNG written by hand (sharp cannot take 16-bit raw input reliably). */
function png16(width: number, height: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([16, 2, 0, 0, 0], 8);
  const row = Buffer.alloc(1 + width * 6);
  for (let x = 0; x < width; x++) rgb.forEach((v, c) => row.writeUInt16BE(v, 1 + x * 6 + c * 2));
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const normalised = (rgb: number[]) => rgb.map((v, c) => (v / 255 - MEAN[c]) / STD[c]);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dinotrain-embed-'));
  const colours = join(dir, 'colours');
  await mkdir(join(colours, 'deeper', 'still'), { recursive: true });
  await solid(40, 30, 3, [255, 0, 0]).png().toFile(join(colours, 'red.png'));
  await solid(33, 47, 1, [100]).png().toFile(join(colours, 'grey.png'));
  await solid(20, 20, 4, [0, 0, 255, 128]).png().toFile(join(colours, 'deeper', 'blue-alpha.png'));
  await solid(24, 24, 3, [120, 160, 100]).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(join(colours, 'deeper', 'green-cmyk.jpg'));
  await writeFile(join(colours, 'deeper', 'still', 'teal16.png'), png16(16, 12, [0, 32896, 32896])); // 32896 = 128 * 257
  await solid(32, 32, 3, [10, 20, 30]).webp({ lossless: true }).toFile(join(colours, 'dark.webp'));
  await writeFile(join(colours, 'broken.jpg'), Buffer.from('this is not a jpeg at all'));
  await writeFile(join(colours, 'notes.txt'), 'ignored');
  await writeFile(join(colours, '.hidden.png'), 'ignored');
  synthetic = await writeLabelledSet(join(dir, 'synthetic'), 7, 42);
  await mkdir(join(dir, 'empty'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('mean-colour model: every colour mode decodes to the expected normalised RGB; corrupt file skipped and counted', async () => {
  const skips: string[] = [];
  const r = await embedFolder(meanModel, join(dir, 'colours'), { batchSize: 2, onSkip: (s) => skips.push(s.file) });
  assert.deepEqual(r.files, ['dark.webp', 'deeper/blue-alpha.png', 'deeper/green-cmyk.jpg', 'deeper/still/teal16.png', 'grey.png', 'red.png']);
  assert.equal(r.dim, 3);
  assert.equal(r.data.length, 6 * 3);
  assert.deepEqual(skips, ['broken.jpg']);
  assert.equal(r.skipped.length, 1);
  assert.match(r.skipped[0].reason, /./);
  const row = (f: string) => Array.from(r.data.subarray(r.files.indexOf(f) * 3, r.files.indexOf(f) * 3 + 3));
  const close = (got: number[], want: number[], tol: number, what: string) =>
    got.forEach((g, c) => assert.ok(Math.abs(g - want[c]) <= tol, `${what} channel ${c}: ${g} vs ${want[c]}`));
  close(row('red.png'), normalised([255, 0, 0]), 1e-5, 'red');
  close(row('grey.png'), normalised([100, 100, 100]), 1e-5, 'grey');
  close(row('deeper/blue-alpha.png'), normalised([0, 0, 255]), 1e-5, 'alpha dropped');
  close(row('deeper/still/teal16.png'), normalised([0, 128, 128]), 1e-5, '16-bit');
  close(row('dark.webp'), normalised([10, 20, 30]), 1e-5, 'webp');
  // CMYK goes through colour profiles (sRGB -> CMYK -> sRGB): only approximately the same colour.
  close(row('deeper/green-cmyk.jpg'), normalised([120, 160, 100]), 12 / 255 / 0.2, 'cmyk');
});

test('--center-crop keeps the middle of a wide image; the default squashes the whole image', async () => {
  const wide = join(dir, 'wide');
  await mkdir(wide);
  const w = 96;
  const h = 32;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(y * w + x) * 3 + Math.floor(x / 32)] = 255; // red | green | blue thirds
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(wide, 'thirds.png'));
  const whole = await embedFolder(meanModel, wide, {});
  const crop = await embedFolder(meanModel, wide, { centerCrop: true });
  const rgb = (d: Float32Array) => Array.from(d).map((v, c) => (v * STD[c] + MEAN[c]) * 255);
  const [wr, wg, wb] = rgb(whole.data);
  const [cr, cg, cb] = rgb(crop.data);
  for (const v of [wr, wg, wb]) assert.ok(Math.abs(v - 85) < 3, `squashed: each third ~85, got ${[wr, wg, wb]}`);
  assert.ok(cg > 240 && cr < 10 && cb < 10, `centre crop should be the green third, got ${[cr, cg, cb]}`);
});

test('conv model on a folder: rows = readable images, relative names, deterministic across runs, batch-size independent', async () => {
  const root = join(dir, 'synthetic');
  const a = await embedFolder(convModel, root, { batchSize: 4 });
  const b = await embedFolder(convModel, root, { batchSize: 4 });
  const c = await embedFolder(convModel, root, { batchSize: 64 });
  assert.deepEqual(a.files, [...synthetic].sort());
  assert.equal(a.dim, 12);
  assert.equal(a.data.length, synthetic.length * 12);
  assert.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer), 'bit-identical on a second run');
  for (let i = 0; i < a.data.length; i++) assert.ok(Math.abs(a.data[i] - c.data[i]) < 1e-5, `batch size changed value ${i}`);
  assert.ok(a.timing.inferMs > 0 && a.timing.decodeMs > 0);
});

/** Minimal .npy v1/v2 reader for float32 C-order arrays. */
function readNpy(buf: Buffer): { shape: number[]; data: Float32Array } {
  assert.equal(buf.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  assert.equal(start % 64, 0, 'data starts 64-byte aligned');
  const header = buf.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  assert.match(header, /'fortran_order': False/);
  const shape = header.match(/'shape': \(([^)]*)\)/)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(start);
  const data = new Float32Array(body.length / 4);
  for (let i = 0; i < data.length; i++) data[i] = body.readFloatLE(i * 4);
  return { shape, data };
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

test('CSV, JSONL and NPY outputs parse back to the same names and float32 values', async () => {
  const r = await embedFolder(convModel, join(dir, 'synthetic'), { batchSize: 8 });
  // Names that need quoting in CSV.
  const files = r.files.map((f, i) => (i === 0 ? 'odd, "name".png' : f));
  const out = join(dir, 'out', 'nested');
  const csvPaths = await writeEmbeddings(join(out, 'e.csv'), files, r.data, r.dim);
  const jsonlPaths = await writeEmbeddings(join(out, 'e.jsonl'), files, r.data, r.dim);
  const npyPaths = await writeEmbeddings(join(out, 'e.npy'), files, r.data, r.dim);
  assert.deepEqual(csvPaths, [join(out, 'e.csv')]);
  assert.deepEqual(npyPaths, [join(out, 'e.npy'), join(out, 'e.files.txt')]);

  const lines = (await readFile(csvPaths[0], 'utf8')).trimEnd().split('\n');
  assert.deepEqual(parseCsvLine(lines[0]), ['file', ...Array.from({ length: r.dim }, (_, j) => `e${j}`)]);
  assert.equal(lines.length, files.length + 1);
  lines.slice(1).forEach((line, i) => {
    const cells = parseCsvLine(line);
    assert.equal(cells.length, r.dim + 1);
    assert.equal(cells[0], files[i]);
    cells.slice(1).forEach((v, j) => assert.equal(Math.fround(Number(v)), r.data[i * r.dim + j]));
  });

  const rows = (await readFile(jsonlPaths[0], 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { file: string; embedding: number[] });
  assert.deepEqual(rows.map((x) => x.file), files);
  rows.forEach((x, i) => assert.deepEqual(Float32Array.from(x.embedding), r.data.subarray(i * r.dim, (i + 1) * r.dim)));

  const npy = readNpy(await readFile(npyPaths[0]));
  assert.deepEqual(npy.shape, [files.length, r.dim]);
  assert.deepEqual(npy.data, r.data);
  assert.deepEqual((await readFile(npyPaths[1], 'utf8')).split('\n').slice(0, -1), files);
});

test('formatFloat32 gives the shortest decimal that reads back as the same float32', () => {
  for (const v of [0.1, 1 / 3, -2.5e-8, 123456.789, 0, -0, 3.4e38, 1e-45]) {
    const f = Math.fround(v);
    const s = formatFloat32(f);
    assert.equal(Math.fround(Number(s)), f, s);
  }
  assert.equal(formatFloat32(Math.fround(0.1)), '0.1');
});

test('user errors: missing model, not an ONNX file, empty folder, unreadable-only folder, bad output extension', async () => {
  await assert.rejects(embedFolder(join(dir, 'nope.onnx'), join(dir, 'synthetic')), (e: unknown) => e instanceof UserError && /model file not found/.test(e.message));
  await writeFile(join(dir, 'garbage.onnx'), Buffer.from('garbage bytes, no protobuf here \x00\x01'));
  await assert.rejects(embedFolder(join(dir, 'garbage.onnx'), join(dir, 'synthetic')), (e: unknown) => e instanceof UserError && /not a dinotrain backbone/.test(e.message));
  await assert.rejects(embedFolder(convModel, join(dir, 'empty')), (e: unknown) => e instanceof UserError && /no image files found/i.test(e.message));
  await assert.rejects(embedFolder(convModel, join(dir, 'missing-dir')), (e: unknown) => e instanceof UserError && /not found/.test(e.message));
  const bad = join(dir, 'bad-only');
  await mkdir(bad);
  await writeFile(join(bad, 'a.png'), 'nope');
  await assert.rejects(embedFolder(convModel, bad), (e: unknown) => e instanceof UserError && /none of the 1 images/.test(e.message));
  await assert.rejects(writeEmbeddings(join(dir, 'e.parquet'), ['a'], new Float32Array(1), 1), (e: unknown) => e instanceof UserError && /\.csv, \.jsonl or \.npy/.test(e.message));
});
