// Data pipeline throughput: decode + multi-crop augmentation + batching with prefetch, no model.
//   node --import tsx bench/data.ts [--data DIR] [--method dino|dinov2|simclr] [--batch 32]
//        [--batches 30] [--concurrency N] [--prefetch 2] [--upscale W] [--global-size S --local-size S]
// --global-size/--local-size override the preset's view sizes (the training bench uses 96/48 for DINO).
// Also prints the augmentation alone: ms to render all views of one decoded sample, on this thread.
// DINOTRAIN_SIMD=0 runs the augmentations as plain JS loops instead of the WebAssembly SIMD kernels.
// --upscale W first writes copies of the images resized to W px wide (JPEG q90) into a temp folder,
// to measure on photo-sized inputs (e.g. 500 for ImageNet-like 500x375).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { resolveTransforms } from '../src/config/transforms.js';
import { methodNamed } from '../src/methods/index.js';
import { decodeImage } from '../src/data/decode.js';
import { DataLoader } from '../src/data/loader.js';
import { renderSample, sampleRng } from '../src/data/sample.js';
import { scanImageFolder } from '../src/data/scan.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const dataDir = arg('data', join(import.meta.dirname, '..', 'examples', 'images'));
const method = arg('method', 'dino');
const batchSize = Number(arg('batch', '32'));
const batches = Number(arg('batches', '30'));
const prefetch = Number(arg('prefetch', '2'));
const concurrencyArg = arg('concurrency', '');
const upscale = Number(arg('upscale', '0'));

let dir = dataDir;
let tmp: string | undefined;
if (upscale > 0) {
  tmp = mkdtempSync(join(os.tmpdir(), 'dinotrain-bench-'));
  const src = await scanImageFolder(dataDir);
  for (let i = 0; i < src.length; i++) {
    await sharp(src.path(i)).resize({ width: upscale }).jpeg({ quality: 90 }).toFile(join(tmp, `${i}.jpg`));
  }
  dir = tmp;
}

const files = await scanImageFolder(dir);
const globalSize = arg('global-size', ''), localSize = arg('local-size', '');
const transforms = resolveTransforms(methodNamed(method).transforms, {
  ...(globalSize ? { global: { size: Number(globalSize) } } : {}),
  ...(localSize ? { local: { size: Number(localSize) } } : {}),
});
const loader = new DataLoader({
  files,
  transforms,
  batchSize,
  seed: 0,
  prefetch,
  concurrency: concurrencyArg ? Number(concurrencyArg) : undefined,
  masks: method === 'dinov2' ? { patchSize: 14 } : undefined,
});
await loader.next(); // warm-up: first batch includes start-up
const start = performance.now();
const cpuStart = process.cpuUsage();
for (let i = 0; i < batches; i++) await loader.next();
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
await loader.close();
const first = await sharp(files.path(0)).metadata();

// augmentation alone: every view of each decoded sample, rendered on this thread
const decoded = await Promise.all(Array.from({ length: Math.min(files.length, 64) }, (_, i) => decodeImage(files.path(i))));
const outs = loader.specs.map((v) => new Float32Array(3 * v.size * v.size));
let rendered = 0;
const renderStart = performance.now();
for (let rep = 0; rendered < 400; rep++) {
  for (let i = 0; i < decoded.length; i++, rendered++) renderSample(decoded[i], loader.specs, transforms, sampleRng(0, rep, i), outs, 0);
}
const renderMs = (performance.now() - renderStart) / rendered;
if (tmp) rmSync(tmp, { recursive: true, force: true });

const images = batches * batchSize;
const views = images * loader.specs.length;
console.log(`command: node --import tsx bench/data.ts ${process.argv.slice(2).join(' ')}`.trim());
console.log(
  `machine: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg()[0].toFixed(1)}, node ${process.versions.node}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`,
);
console.log(`data: ${files.length} images in ${dataDir}${upscale ? ` upscaled to ${upscale} px wide` : ''} (first ${first.width}x${first.height})`);
console.log(`views: ${method} ${loader.specs.map((s) => s.size).join('+')} px, batch ${batchSize}, prefetch ${prefetch}`);
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
console.log(`images/s: ${(images / seconds).toFixed(1)}`);
console.log(`views/s: ${(views / seconds).toFixed(1)}`);
// CPU time of the whole process (main thread + libuv pool) per image: robust to other load on the machine.
console.log(`cpu ms/image: ${((cpuSeconds * 1000) / images).toFixed(1)} (= ${(images / cpuSeconds).toFixed(1)} images/s per busy core)`);
console.log(`augment ms/image (all views, one thread, no decode): ${renderMs.toFixed(2)}${process.env.DINOTRAIN_SIMD === '0' ? ' (JS loops)' : ''}`);
