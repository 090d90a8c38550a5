// Fashion-MNIST from Debian's dataset-fashion-mnist (idx files, gzip) to PNG folders for bench/quality.ts:
//   <out>/pretrain/<i>.png            first `count` train images, no labels (the pretraining set)
//   <out>/knn-train/<class>/<i>.png    the same images with their labels (kNN memory bank)
//   <out>/knn-test/<class>/<i>.png     the first `count` test images (kNN queries)
// Images are 28 px grayscale, upscaled to `size` px (bicubic) so a ViT with patch 8 tiles them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const CLASS_NAMES = ['tshirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle_boot'];

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

export function readIdxImages(path: string): IdxImages {
  const buf = gunzipSync(readFileSync(path));
  if (buf.readUInt32BE(0) !== 0x00000803) throw new Error(`${path}: not an idx3 ubyte file`);
  const count = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  return { count, rows, cols, pixels: new Uint8Array(buf.buffer, buf.byteOffset + 16, count * rows * cols) };
}

export function readIdxLabels(path: string): Uint8Array {
  const buf = gunzipSync(readFileSync(path));
  if (buf.readUInt32BE(0) !== 0x00000801) throw new Error(`${path}: not an idx1 ubyte file`);
  const count = buf.readUInt32BE(4);
  return new Uint8Array(buf.buffer, buf.byteOffset + 8, count);
}

async function writePng(img: IdxImages, i: number, size: number, path: string): Promise<void> {
  const n = img.rows * img.cols;
  const raw = Buffer.from(img.pixels.subarray(i * n, (i + 1) * n));
  const png = await sharp(raw, { raw: { width: img.cols, height: img.rows, channels: 1 } })
    .resize(size, size, { kernel: 'cubic' })
    .png()
    .toBuffer();
  writeFileSync(path, png);
}

async function writeSet(img: IdxImages, labels: Uint8Array | undefined, count: number, size: number, dir: string): Promise<void> {
  const chunk = 64;
  for (let start = 0; start < count; start += chunk) {
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      const sub = labels ? join(dir, CLASS_NAMES[labels[i]]) : dir;
      jobs.push(writePng(img, i, size, join(sub, `${String(i).padStart(5, '0')}.png`)));
    }
    await Promise.all(jobs);
  }
}

/** Writes the three folders unless `<out>/done-<count>-<size>` says they are there already. */
export async function prepareFashionMnist(out: string, count: number, size: number): Promise<{ pretrain: string; knnTrain: string; knnTest: string }> {
  const dirs = { pretrain: join(out, 'pretrain'), knnTrain: join(out, 'knn-train'), knnTest: join(out, 'knn-test') };
  const stamp = join(out, `done-${count}-${size}`);
  if (existsSync(stamp)) return dirs;
  mkdirSync(dirs.pretrain, { recursive: true });
  for (const c of CLASS_NAMES) {
    mkdirSync(join(dirs.knnTrain, c), { recursive: true });
    mkdirSync(join(dirs.knnTest, c), { recursive: true });
  }
  const train = readIdxImages(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  const trainLabels = readIdxLabels(join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'));
  const test = readIdxImages(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
  const testLabels = readIdxLabels(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
  if (count > train.count || count > test.count) throw new Error(`count ${count} exceeds the dataset (${train.count} train, ${test.count} test)`);
  await writeSet(train, undefined, count, size, dirs.pretrain);
  await writeSet(train, trainLabels, count, size, dirs.knnTrain);
  await writeSet(test, testLabels, count, size, dirs.knnTest);
  writeFileSync(stamp, new Date().toISOString() + '\n');
  return dirs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? 'bench/out/fashion-mnist';
  const count = Number(process.argv[3] ?? 10000);
  const size = Number(process.argv[4] ?? 32);
  const t0 = Date.now();
  console.log(await prepareFashionMnist(out, count, size), `${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
