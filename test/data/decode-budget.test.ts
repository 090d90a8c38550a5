// Bounds on the decodes in flight: a weighted FIFO semaphore, the memory estimate from the header, and the
// pixel limit above which an image is skipped and counted.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { boundedDecoder } from '../../src/data/bounded-decode.js';
import { decodeCost, decodedSize } from '../../src/data/decode-cost.js';
import { readImageHeader, type ImageHeader } from '../../src/data/image-header.js';
import { DataLoader } from '../../src/data/loader.js';
import { scanImageFolder } from '../../src/data/scan.js';
import { Semaphore } from '../../src/data/semaphore.js';
import { DINO_TRANSFORMS } from '../../src/methods/dino/transforms.js';
import { writeFlatPng } from '../fixtures/data/flat-png.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-budget-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore with weights', () => {
  it('serves waiters first come first served, each when its weight fits', async () => {
    const s = new Semaphore(10);
    const order: string[] = [];
    await s.acquire(6);
    const big = s.acquire(8).then(() => order.push('big'));
    const small = s.acquire(1).then(() => order.push('small')); // fits now, but waits behind `big`
    await tick();
    assert.deepEqual(order, []);
    s.release(6);
    await tick();
    assert.deepEqual(order, ['big', 'small']);
    await Promise.all([big, small]);
  });

  it('a weight above the capacity waits for the whole capacity, then runs alone', async () => {
    const s = new Semaphore(10);
    await s.acquire(3);
    let huge = false;
    const p = s.acquire(50).then(() => (huge = true));
    await tick();
    assert.equal(huge, false);
    s.release(3);
    await p;
    assert.equal(huge, true);
    let other = false;
    void s.acquire(1).then(() => (other = true));
    await tick();
    assert.equal(other, false, 'nothing runs beside it');
    s.release(50);
    await tick();
    assert.equal(other, true);
  });

  it('weight 1 by default: a counting semaphore', async () => {
    const s = new Semaphore(2);
    await s.acquire();
    await s.acquire();
    let third = false;
    void s.acquire().then(() => (third = true));
    await tick();
    assert.equal(third, false);
    s.release();
    await tick();
    assert.equal(third, true);
  });
});

describe('decodeCost', () => {
  const header = (over: Partial<ImageHeader>): ImageHeader => ({ format: 'png', width: 16000, height: 16000, channels: 3, bytesPerSample: 1, progressive: false, ...over });

  it('a streamed decode costs its output and buffered rows; one that holds the whole image costs all its pixels', () => {
    const out = 693 * 693 * 3;
    assert.equal(decodeCost(header({}), 693), out + 16000 * 8192);
    assert.equal(decodeCost(header({ format: 'jpeg', progressive: true }), 693), out + Math.ceil(16000 * 16000 * 4.8));
    assert.equal(decodeCost(header({ progressive: true, channels: 4, bytesPerSample: 2 }), 693), out + Math.ceil(16000 * 16000 * 12.8));
    assert.equal(decodeCost(header({ format: 'heif' }), 693), out + 16000 * 16000 * 20);
    assert.equal(decodeCost(header({ format: 'gif', width: 400, height: 300 }), 693), 400 * 300 * 3 + 400 * 300 * 8);
  });

  it('decodedSize: the short side becomes the bound, the other keeps the aspect ratio', () => {
    assert.deepEqual(decodedSize(3000, 2000, 693), { width: 1040, height: 693 });
    assert.deepEqual(decodedSize(500, 9000, 693), { width: 500, height: 9000 });
  });

  it('readImageHeader reads the progressive flag of interlaced PNGs and progressive JPEGs', async () => {
    const p = join(dir, 'interlaced.png');
    await sharp({ create: { width: 64, height: 48, channels: 4, background: '#123456' } }).png({ progressive: true }).toFile(p);
    assert.deepEqual(await readImageHeader(p), { format: 'png', width: 64, height: 48, channels: 4, bytesPerSample: 1, progressive: true });
    const j = join(dir, 'progressive.jpg');
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#123456' } }).jpeg({ progressive: true }).toFile(j);
    assert.equal((await readImageHeader(j)).progressive, true);
  });
});

describe('max image pixels', () => {
  it('an image above the limit is refused with its size and the limit, before any pixel is decoded', async () => {
    const p = join(dir, 'wide.png');
    writeFlatPng(p, 3000, 2000, [10, 20, 30]);
    const decode = boundedDecoder({ shortSide: 693, maxImagePixels: 5_000_000 });
    await assert.rejects(decode(p), /3000x2000 is 6\.0 Mpx, above the limit of 5\.0 Mpx \(max_image_pixels\)/);
    const ok = await boundedDecoder({ shortSide: 693, maxImagePixels: 6_000_000 })(p);
    assert.deepEqual([ok.width, ok.height], [1040, 693]);
  });

  it('the loader skips and counts such images, with a warning naming each', async () => {
    const root = join(dir, 'mixed');
    mkdirSync(root);
    for (let i = 0; i < 4; i++) writeFlatPng(join(root, `small${i}.png`), 300, 200, [i * 60, 0, 0]);
    writeFlatPng(join(root, 'huge.png'), 4000, 4000, [0, 0, 200]);
    const files = await scanImageFolder(root);
    const warnings: string[] = [];
    const loader = new DataLoader({ files, transforms: DINO_TRANSFORMS, batchSize: 2, seed: 0, maxImagePixels: 1_000_000, onWarning: (m) => warnings.push(m) });
    for (let i = 0; i < 4; i++) await loader.next();
    assert.equal(loader.stats().skippedFiles, 1);
    await loader.close();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /huge\.png: 4000x4000 is 16\.0 Mpx, above the limit of 1\.0 Mpx/);
  });

  it('decodes larger than the whole memory budget still run (each alone)', async () => {
    const root = join(dir, 'budget');
    mkdirSync(root);
    for (let i = 0; i < 4; i++) writeFlatPng(join(root, `img${i}.png`), 2000, 1500, [0, i * 60, 0]);
    const files = await scanImageFolder(root);
    const loader = new DataLoader({ files, transforms: DINO_TRANSFORMS, batchSize: 4, seed: 0, decodeMemoryBytes: 1024 });
    const b = await loader.next();
    assert.equal(b.size, 4);
    await loader.close();
  });
});
