// The prefetching loader: shapes per method, determinism, exact resume, corrupt files, memory reuse.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { resolveTransforms } from '../../src/config/transforms.js';
import { methodNamed } from '../../src/methods/index.js';
import { decodeImage } from '../../src/data/decode.js';
import { DataLoader, type Batch, type LoaderOptions } from '../../src/data/loader.js';
import { scanImageFolder, type ImageFileList } from '../../src/data/scan.js';
import { UserError } from '../../src/util/errors.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/images');
const SMALL = { global: { size: 32 }, local: { size: 16 } };

let dir: string;
let files: ImageFileList;

/** Writes `count` small real photos (crops of the bundled examples, mixed sizes) into `target`. */
async function writePhotos(target: string, count: number): Promise<void> {
  mkdirSync(target, { recursive: true });
  const sources = readdirSync(EXAMPLES).sort();
  for (let i = 0; i < count; i++) {
    const src = join(EXAMPLES, sources[(i * 7) % sources.length]);
    const [w, h] = i % 3 === 0 ? [64, 48] : i % 3 === 1 ? [40, 56] : [50, 50];
    await sharp(src).resize(w, h, { fit: 'cover' }).jpeg({ quality: 90 }).toFile(join(target, `img${String(i).padStart(2, '0')}.jpg`));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-loader-'));
  await writePhotos(join(dir, 'good'), 10);
  files = await scanImageFolder(join(dir, 'good'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function loader(overrides: Partial<LoaderOptions> & { method?: string } = {}): DataLoader {
  const { method = 'dino', ...rest } = overrides;
  return new DataLoader({
    files,
    transforms: resolveTransforms(methodNamed(method).transforms, SMALL),
    batchSize: 4,
    seed: 42,
    ...rest,
  });
}

/** A deep copy of a batch (its arrays are recycled by later next() calls). */
function snapshot(b: Batch) {
  return {
    epoch: b.epoch,
    batch: b.batch,
    views: b.views.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')),
    indices: Array.from(b.indices),
    masks: b.masks ? Buffer.from(b.masks).toString('base64') : undefined,
  };
}

async function take(l: DataLoader, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(snapshot(await l.next()));
  await l.close();
  return out;
}

describe('DataLoader', () => {
  it('batch shapes per method: DINO 2+6 views, DINOv2 2+8 views with masks, SimCLR 2 views', async () => {
    const expected: [string, number[]][] = [
      ['dino', [32, 32, 16, 16, 16, 16, 16, 16]],
      ['dinov2', [32, 32, 16, 16, 16, 16, 16, 16, 16, 16]],
      ['simclr', [32, 32]],
    ];
    for (const [method, sizes] of expected) {
      const l = loader({ method, masks: method === 'dinov2' ? { patchSize: 4 } : undefined });
      const b = await l.next();
      assert.deepEqual(b.viewSizes, sizes, method);
      assert.equal(b.views.length, sizes.length);
      b.views.forEach((v, i) => assert.equal(v.length, 4 * 3 * sizes[i] * sizes[i]));
      assert.equal(b.size, 4);
      assert.equal(new Set(b.indices).size, 4);
      for (const i of b.indices) assert.ok(i < files.length);
      for (const v of b.views) for (const x of v) assert.ok(Number.isFinite(x) && x > -2.2 && x < 2.7);
      if (method === 'dinov2') {
        assert.deepEqual(b.maskGrid, [8, 8]);
        assert.equal(b.masks?.length, 2 * 4 * 64);
        let emptyRows = 0;
        for (let r = 0; r < 8; r++) if (b.masks!.subarray(r * 64, (r + 1) * 64).every((m) => m === 0)) emptyRows++;
        assert.equal(emptyRows, 4, 'half of the global crops are unmasked');
      } else assert.equal(b.masks, undefined);
      await l.close();
    }
  });

  it('same seed gives the same batches byte for byte, whatever order decodes finish in', async () => {
    // Decodes that finish in reverse order of request, against a sequential run.
    let calls = 0;
    const slowFirst = async (path: string) => {
      const delay = 40 - (calls++ % 4) * 10;
      await new Promise((r) => setTimeout(r, delay));
      return decodeImage(path);
    };
    const a = await take(loader({ concurrency: 1, prefetch: 1, masks: { patchSize: 8 }, method: 'dinov2' }), 5);
    const b = await take(loader({ concurrency: 4, prefetch: 3, decode: slowFirst, masks: { patchSize: 8 }, method: 'dinov2' }), 5);
    assert.deepEqual(a, b);
    assert.deepEqual(
      a.map((x) => [x.epoch, x.batch]),
      [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0]],
    );
    const c = await take(loader({ seed: 43, masks: { patchSize: 8 }, method: 'dinov2' }), 1);
    assert.notDeepEqual(c[0].views, a[0].views);
    assert.notDeepEqual(c[0].masks, a[0].masks);
  });

  it('augmentation in worker threads gives the same batches byte for byte as on the main thread', async () => {
    for (const method of ['dinov2', 'simclr'] as const) {
      const masks = method === 'dinov2' ? { patchSize: 8 } : undefined;
      const main = await take(loader({ method, masks }), 4);
      const workers = await take(loader({ method, masks, augmentWorkers: 2 }), 4);
      assert.deepEqual(workers, main, method);
    }
  });

  it('each epoch visits every file once in a new order', async () => {
    const l = loader({ batchSize: 5 });
    const epochs: number[][] = [[], []];
    for (let i = 0; i < 4; i++) {
      const b = await l.next();
      epochs[b.epoch].push(...b.indices);
    }
    await l.close();
    for (const e of epochs) assert.deepEqual([...e].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(epochs[0], epochs[1]);
  });

  it('starting at (epoch, batch) gives exactly the batches of an uninterrupted run', async () => {
    const full = await take(loader({ masks: { patchSize: 8 }, method: 'dinov2' }), 6);
    const resumed = await take(loader({ start: { epoch: 1, batch: 1 }, masks: { patchSize: 8 }, method: 'dinov2' }), 3);
    assert.deepEqual(resumed, full.slice(3, 6));
    // A batch index past the end of an epoch carries into the next epochs.
    const carried = await take(loader({ start: { epoch: 0, batch: 5 } }), 1);
    const plain = await take(loader(), 6);
    assert.deepEqual(carried[0], plain[5]);
  });

  it('drop_last: 10 images in batches of 4 make 2 batches per epoch, or 3 with the last of 2', async () => {
    assert.equal(loader().batchesPerEpoch, 2);
    const keep = loader({ dropLast: false });
    assert.equal(keep.batchesPerEpoch, 3);
    const sizes = [];
    for (let i = 0; i < 4; i++) {
      const b = await keep.next();
      sizes.push(b.size);
      assert.equal(b.views[0].length, b.size * 3 * 32 * 32);
      assert.equal(b.indices.length, b.size);
    }
    await keep.close();
    assert.deepEqual(sizes, [4, 4, 2, 4]);
    assert.throws(() => loader({ batchSize: 11 }), /make no batch of 11/);
  });

  it('reuses batch buffers: memory stays flat over many batches', async () => {
    const l = loader({ prefetch: 2 });
    const seen = new Set<ArrayBufferLike>();
    for (let i = 0; i < 20; i++) {
      const b = await l.next();
      seen.add(b.views[0].buffer);
    }
    await l.close();
    assert.ok(seen.size <= 3, `${seen.size} distinct buffers`);
  });

  it('reports the time the consumer waited for data', async () => {
    const slow = async (path: string) => {
      await new Promise((r) => setTimeout(r, 25));
      return decodeImage(path);
    };
    const l = loader({ decode: slow, concurrency: 1, prefetch: 1 });
    const b = await l.next();
    assert.ok(b.waitMs >= 50, `waited ${b.waitMs} ms`);
    await l.next();
    const stats = l.stats();
    await l.close();
    assert.equal(stats.batches, 2);
    assert.ok(stats.waitMs >= b.waitMs);
  });
});

describe('DataLoader with unreadable files', () => {
  it('skips corrupt files with a warning naming each, counts them, and still fills every batch', async () => {
    const root = join(dir, 'mixed');
    await writePhotos(root, 6);
    writeFileSync(join(root, 'broken.jpg'), Buffer.from('not really a jpeg'));
    const png = await sharp(join(root, 'img00.jpg')).png().toBuffer();
    writeFileSync(join(root, 'truncated.png'), png.subarray(0, png.length >> 1));
    const list = await scanImageFolder(root);
    assert.equal(list.length, 8);
    const warnings: string[] = [];
    const l = new DataLoader({
      files: list,
      transforms: resolveTransforms(methodNamed('simclr').transforms, SMALL),
      batchSize: 4,
      seed: 1,
      onWarning: (m) => warnings.push(m),
    });
    const bad = new Set<number>();
    for (let i = 0; i < list.length; i++) if (/broken|truncated/.test(list.relativePath(i))) bad.add(i);
    for (let i = 0; i < 6; i++) {
      const b = await l.next();
      assert.equal(b.size, 4);
      for (const idx of b.indices) assert.ok(!bad.has(idx), `batch holds unreadable file ${list.relativePath(idx)}`);
    }
    assert.equal(l.stats().skippedFiles, 2);
    await l.close();
    assert.equal(warnings.length, 2);
    assert.ok(warnings.some((w) => w.includes('broken.jpg')));
    assert.ok(warnings.some((w) => w.includes('truncated.png')));
  });

  it('a dataset with no readable image is a UserError', async () => {
    const root = join(dir, 'allbad');
    mkdirSync(root, { recursive: true });
    for (const name of ['a.jpg', 'b.png', 'c.webp']) writeFileSync(join(root, name), 'garbage');
    const list = await scanImageFolder(root);
    const l = new DataLoader({ files: list, transforms: resolveTransforms(methodNamed('dino').transforms, SMALL), batchSize: 2, seed: 0 });
    await assert.rejects(l.next(), (e: unknown) => e instanceof UserError && /No readable image/.test(e.message));
    await l.close();
  });
});
