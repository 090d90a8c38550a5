// Rebuilds examples/images/ from the photographs that Debian's python3-skimage ships
// (see examples/README.md for each source and its licence). Deterministic: run it twice,
// get the same files.   apt-get install python3-skimage && node examples/make-images.mjs
import sharp from 'sharp';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = '/usr/lib/python3/dist-packages/skimage/data';
const OUT = join(dirname(fileURLToPath(import.meta.url)), 'images');

// [file, number of images to make from it]; the first is always the whole photo.
const SOURCES = [
  ['astronaut.png', 6],
  ['chelsea.png', 6],
  ['coffee.png', 6],
  ['rocket.jpg', 5],
  ['retina.jpg', 3],
  ['hubble_deep_field.jpg', 4],
  ['camera.png', 4],
  ['brick.png', 1],
  ['grass.png', 1],
  ['gravel.png', 1],
];

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) rmSync(join(OUT, f));
const rand = prng(20240601);
let total = 0;
for (const [file, count] of SOURCES) {
  const path = join(SRC, file);
  const { width, height } = await sharp(path).metadata();
  const stem = file.replace(/\.[a-z]+$/, '');
  for (let k = 0; k < count; k++) {
    let img = sharp(path);
    if (k > 0) {
      // A random crop covering 30-70% of the photo's area with aspect ratio in [3/4, 4/3].
      const area = width * height * (0.3 + 0.4 * rand());
      const ratio = Math.exp(Math.log(3 / 4) + Math.log(16 / 9) * rand());
      const w = Math.min(width, Math.round(Math.sqrt(area * ratio)));
      const h = Math.min(height, Math.round(Math.sqrt(area / ratio)));
      const left = Math.floor(rand() * (width - w + 1));
      const top = Math.floor(rand() * (height - h + 1));
      img = img.extract({ left, top, width: w, height: h });
    }
    const name = `${stem}-${k}.jpg`;
    await img.resize(224, 224, { fit: 'inside' }).jpeg({ quality: 85, mozjpeg: true }).toFile(join(OUT, name));
    total++;
  }
}
console.log(`wrote ${total} images to ${OUT}`);
