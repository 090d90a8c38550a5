// Augmentations: values against torchvision/torch fixtures, and properties on a real decoded photo.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import { resolveTransforms } from '../../src/config/transforms.js';
import { methodNamed } from '../../src/methods/index.js';
import { gaussianBlur, gaussianKernel1d, kernelSizeForSigma } from '../../src/data/blur.js';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  colorJitter,
  flipHorizontal,
  solarize,
  toGrayscale,
} from '../../src/data/color.js';
import { roundHalfEven, sampleCropBox } from '../../src/data/crop.js';
import { decodeImage } from '../../src/data/decode.js';
import type { PlanarImage, RgbImage } from '../../src/data/image.js';
import { denormalizeToRgb, normalize } from '../../src/data/normalize.js';
import { resampleWeights, resizeCrop } from '../../src/data/resize.js';
import { renderView, viewSpecs } from '../../src/data/views.js';
import { Rng } from '../../src/util/rng.js';

const here = import.meta.dirname;
const fixture = JSON.parse(readFileSync(join(here, '../fixtures/data/torchvision.json'), 'utf8')) as {
  height: number;
  width: number;
  input: number[];
  ops: Record<string, number[]>;
  blur: { sigma: number; kernel_size: number; kernel: number[]; output: number[] }[];
  resize: {
    src_height: number;
    src_width: number;
    src: number[];
    box: { top: number; left: number; height: number; width: number };
    outputs: { size: number; output: number[] }[];
  };
};
const PHOTO = join(here, '../../examples/images/chelsea-0.jpg');

function fixtureImage(): PlanarImage {
  return { width: fixture.width, height: fixture.height, data: Float32Array.from(fixture.input) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function planarOf(photo: RgbImage, size: number): PlanarImage {
  const view = { width: size, height: size, data: new Float32Array(3 * size * size) };
  resizeCrop(photo, { top: 0, left: 0, width: photo.width, height: photo.height }, view);
  return view;
}

function channelStats(img: PlanarImage, c: number): { mean: number; variance: number } {
  const n = img.width * img.height;
  let s = 0;
  for (let i = 0; i < n; i++) s += img.data[c * n + i];
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (img.data[c * n + i] - mean) ** 2;
  return { mean, variance: v / n };
}

describe('colour ops match torchvision tensor functional ops', () => {
  const cases: [string, (img: PlanarImage) => void][] = [
    ['brightness_1.3', (img) => adjustBrightness(img, 1.3)],
    ['brightness_0.6', (img) => adjustBrightness(img, 0.6)],
    ['contrast_0.6', (img) => adjustContrast(img, 0.6)],
    ['contrast_1.5', (img) => adjustContrast(img, 1.5)],
    ['saturation_0.3', (img) => adjustSaturation(img, 0.3)],
    ['saturation_1.7', (img) => adjustSaturation(img, 1.7)],
    ['hue_0.17', (img) => adjustHue(img, 0.17)],
    ['hue_-0.4', (img) => adjustHue(img, -0.4)],
    ['hue_0.5', (img) => adjustHue(img, 0.5)],
    ['grayscale', (img) => toGrayscale(img)],
    ['solarize_0.5', (img) => solarize(img, 0.5)],
  ];
  for (const [name, op] of cases) {
    it(name, () => {
      const img = fixtureImage();
      op(img);
      assert.ok(maxAbsDiff(img.data, fixture.ops[name]) < 2e-6, `max diff ${maxAbsDiff(img.data, fixture.ops[name])}`);
    });
  }
});

describe('gaussian blur matches torchvision', () => {
  for (const ref of fixture.blur) {
    it(`sigma ${ref.sigma}: kernel size, kernel values and output (reflect borders)`, () => {
      assert.equal(kernelSizeForSigma(ref.sigma), ref.kernel_size);
      assert.ok(maxAbsDiff(gaussianKernel1d(ref.sigma, ref.kernel_size), ref.kernel) < 1e-7);
      const img = fixtureImage();
      gaussianBlur(img, ref.sigma);
      assert.ok(maxAbsDiff(img.data, ref.output) < 2e-6, `max diff ${maxAbsDiff(img.data, ref.output)}`);
    });
  }
});

describe('crop + resize matches torch antialiased bilinear interpolate', () => {
  const r = fixture.resize;
  const src: RgbImage = { width: r.src_width, height: r.src_height, data: Uint8Array.from(r.src) };
  for (const ref of r.outputs) {
    it(`${r.box.width}x${r.box.height} -> ${ref.size}x${ref.size}`, () => {
      const out = { width: ref.size, height: ref.size, data: new Float32Array(3 * ref.size * ref.size) };
      resizeCrop(src, r.box, out);
      assert.ok(maxAbsDiff(out.data, ref.output) < 1e-5, `max diff ${maxAbsDiff(out.data, ref.output)}`);
    });
  }
  it('weights of each output sample sum to 1 and a same-size resize is the identity', () => {
    const w = resampleWeights(37, 11);
    for (let i = 0; i < 11; i++) {
      let s = 0;
      for (let k = 0; k < w.count[i]; k++) s += w.weights[i * w.taps + k];
      assert.ok(Math.abs(s - 1) < 1e-6);
    }
    const out = { width: r.box.width, height: r.box.height, data: new Float32Array(3 * r.box.width * r.box.height) };
    resizeCrop(src, r.box, out);
    const n = r.box.width * r.box.height;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < r.box.height; y++) {
        for (let x = 0; x < r.box.width; x++) {
          const expected = src.data[((r.box.top + y) * src.width + r.box.left + x) * 3 + c] / 255;
          assert.ok(Math.abs(out.data[c * n + y * r.box.width + x] - expected) < 1e-6);
        }
      }
    }
  });
});

describe('augmentations on a real photo', () => {
  let photo: RgbImage;
  before(async () => {
    photo = await decodeImage(PHOTO);
  });

  it('decodes the bundled JPEG to 8-bit RGB', () => {
    assert.equal(photo.data.length, photo.width * photo.height * 3);
    assert.ok(photo.width > 100 && photo.height > 100);
  });

  it('flip twice is the identity, once mirrors columns', () => {
    const img = planarOf(photo, 48);
    const original = img.data.slice();
    flipHorizontal(img);
    assert.equal(img.data[5 * 48 + 0], original[5 * 48 + 47]);
    assert.equal(img.data[2 * 48 * 48 + 7 * 48 + 3], original[2 * 48 * 48 + 7 * 48 + 44]);
    assert.notDeepEqual(img.data, original);
    flipHorizontal(img);
    assert.deepEqual(img.data, original);
  });

  it('RandomResizedCrop boxes lie inside the image, within scale and ratio (up to rounding)', () => {
    const rng = new Rng(7);
    const scale: [number, number] = [0.14, 1];
    const ratio: [number, number] = [3 / 4, 4 / 3];
    const area = photo.width * photo.height;
    let fallbacks = 0;
    for (let i = 0; i < 500; i++) {
      const b = sampleCropBox(rng, photo.width, photo.height, scale, ratio);
      assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= photo.height && b.left + b.width <= photo.width);
      const full = b.width === photo.width || b.height === photo.height;
      if (full && b.width * b.height > area * scale[1] * 0.99) fallbacks++;
      // Rounding each side to whole pixels moves area and ratio a little.
      const tol = (b.width + b.height + 1) / (b.width * b.height);
      assert.ok(b.width * b.height >= area * scale[0] * (1 - tol) && b.width * b.height <= area * scale[1] * (1 + tol));
      const r = b.width / b.height;
      assert.ok(r >= ratio[0] * (1 - 1 / b.height) - 1e-9 && r <= ratio[1] * (1 + 1 / b.height) + 1e-9, `ratio ${r}`);
    }
    assert.ok(fallbacks < 100);
  });

  it('RandomResizedCrop falls back to a centre crop clamped to the ratio range', () => {
    // A 300x20 strip: no box with area >= 90% fits at ratio <= 4/3 in 10 tries.
    const b = sampleCropBox(new Rng(1), 300, 20, [0.9, 1], [3 / 4, 4 / 3]);
    assert.deepEqual(b, { top: 0, left: Math.floor((300 - 27) / 2), height: 20, width: roundHalfEven(20 * (4 / 3)) });
    assert.equal(roundHalfEven(2.5), 2);
    assert.equal(roundHalfEven(3.5), 4);
  });

  it('grayscale gives equal channels, solarize inverts exactly the values at or above the threshold', () => {
    const img = planarOf(photo, 40);
    const before = img.data.slice();
    toGrayscale(img);
    const n = 40 * 40;
    for (let i = 0; i < n; i++) {
      assert.equal(img.data[i], img.data[n + i]);
      assert.equal(img.data[i], img.data[2 * n + i]);
    }
    const sol = { ...img, data: before.slice() };
    solarize(sol, 0.5);
    let inverted = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] >= 0.5) {
        assert.equal(sol.data[i], Math.fround(1 - before[i]));
        inverted++;
      } else assert.equal(sol.data[i], before[i]);
    }
    assert.ok(inverted > 0 && inverted < before.length);
  });

  it('normalisation matches (x - mean) / std computed by hand, and denormalises back', () => {
    const img = planarOf(photo, 32);
    const raw = img.data.slice();
    const norm = { mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const };
    normalize(img, norm);
    const n = 32 * 32;
    for (let c = 0; c < 3; c++) {
      const before = channelStats({ ...img, data: raw }, c);
      const after = channelStats(img, c);
      assert.ok(Math.abs(after.mean - (before.mean - norm.mean[c]) / norm.std[c]) < 1e-5);
      assert.ok(Math.abs(after.variance - before.variance / norm.std[c] ** 2) < 1e-4);
      for (let i = 0; i < n; i += 37) {
        assert.ok(Math.abs(img.data[c * n + i] - (raw[c * n + i] - norm.mean[c]) / norm.std[c]) < 1e-5);
      }
    }
    const rgb = denormalizeToRgb(img.data, 32, 32, norm);
    for (let i = 0; i < n; i += 13) assert.ok(Math.abs(rgb[i * 3 + 1] - raw[n + i] * 255) <= 0.5 + 1e-3);
  });

  it('colour jitter with zero strength is the identity; with strength it changes the image', () => {
    const img = planarOf(photo, 32);
    const original = img.data.slice();
    colorJitter(img, new Rng(3), { brightness: 0, contrast: 0, saturation: 0, hue: 0 });
    assert.deepEqual(img.data, original);
    colorJitter(img, new Rng(3), { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 });
    assert.notDeepEqual(img.data, original);
    for (const v of img.data) assert.ok(v >= 0 && v <= 1);
  });

  it('colour jitter = the four adjustments with torchvision factor ranges, in a random order', () => {
    const s = { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 };
    const orders = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const img = planarOf(photo, 16);
      const manual = { ...img, data: img.data.slice() };
      colorJitter(img, new Rng(seed), s);
      // Replay the same draws by hand: a permutation, then the four factors.
      const rng = new Rng(seed);
      const order = [0, 1, 2, 3];
      rng.shuffle(order);
      const b = rng.uniform(0.6, 1.4);
      const c = rng.uniform(0.6, 1.4);
      const sat = rng.uniform(0.8, 1.2);
      const h = rng.uniform(-0.1, 0.1);
      for (const op of order) {
        if (op === 0) adjustBrightness(manual, b);
        if (op === 1) adjustContrast(manual, c);
        if (op === 2) adjustSaturation(manual, sat);
        if (op === 3) adjustHue(manual, h);
      }
      assert.deepEqual(img.data, manual.data);
      orders.add(order.join(''));
    }
    assert.ok(orders.size >= 8, `only ${orders.size} distinct orders in 20 draws`);
  });

  it('blur with a tiny sigma is ~identity; a larger sigma lowers the variance', () => {
    const img = planarOf(photo, 64);
    const original = img.data.slice();
    gaussianBlur(img, 0.1);
    assert.ok(maxAbsDiff(img.data, original) < 1e-6);
    gaussianBlur(img, 0.3, 3); // kernel 3 at sigma 0.3: centre weight ~0.99
    assert.ok(maxAbsDiff(img.data, original) < 0.02);
    const sharp = { ...img, data: original.slice() };
    const blurred = { ...img, data: original.slice() };
    gaussianBlur(blurred, 2);
    for (let c = 0; c < 3; c++) {
      const before = channelStats(sharp, c);
      const after = channelStats(blurred, c);
      assert.ok(after.variance < before.variance * 0.9, `channel ${c}: ${after.variance} vs ${before.variance}`);
      assert.ok(Math.abs(after.mean - before.mean) < 0.01);
    }
  });

  it('renderView draws each augmentation with its configured probability', () => {
    const t = resolveTransforms(methodNamed('dino').transforms, { global: { size: 32 }, local: { size: 16 } });
    const specs = viewSpecs(t);
    const counts = { flipped: 0, jittered: 0, grayscale: 0, blurFirst: 0, blurSecond: 0, solarSecond: 0 };
    const trials = 300;
    const out = new Float32Array(3 * 32 * 32);
    for (let i = 0; i < trials; i++) {
      const rng = new Rng(100 + i);
      const first = renderView(photo, specs[0], t, rng, out);
      const second = renderView(photo, specs[1], t, rng, out);
      counts.flipped += Number(first.flipped);
      counts.jittered += Number(first.jittered);
      counts.grayscale += Number(first.grayscale);
      counts.blurFirst += Number(first.blurSigma !== null);
      counts.blurSecond += Number(second.blurSigma !== null);
      counts.solarSecond += Number(second.solarized);
      assert.equal(first.solarized, false);
      if (first.blurSigma !== null) assert.ok(first.blurSigma >= 0.1 && first.blurSigma <= 2);
    }
    const near = (count: number, p: number) => Math.abs(count / trials - p) < 4 * Math.sqrt((p * (1 - p)) / trials) + 1e-9;
    assert.ok(near(counts.flipped, 0.5), `flip ${counts.flipped}`);
    assert.ok(near(counts.jittered, 0.8), `jitter ${counts.jittered}`);
    assert.ok(near(counts.grayscale, 0.2), `gray ${counts.grayscale}`);
    assert.equal(counts.blurFirst, trials);
    assert.ok(near(counts.blurSecond, 0.1), `blur2 ${counts.blurSecond}`);
    assert.ok(near(counts.solarSecond, 0.2), `solarize2 ${counts.solarSecond}`);
  });
});
