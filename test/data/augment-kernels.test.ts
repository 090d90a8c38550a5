// The augmentations' WebAssembly SIMD kernels (data/image-kernels.ts) against their plain JS loops, on odd sizes
// (widths not a multiple of 4, kernels wider than the image, upscaling and downscaling), and the JS loops against
// the torchvision fixtures (the SIMD path meets them in data-augment.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gaussianBlur } from '../../src/data/blur.js';
import { adjustBrightness, adjustContrast, adjustSaturation, toGrayscale } from '../../src/data/color.js';
import type { CropBox, PlanarImage, RgbImage } from '../../src/data/image.js';
import { imageKernels, setImageKernels } from '../../src/data/image-kernels.js';
import { normalize } from '../../src/data/normalize.js';
import { resizeCrop } from '../../src/data/resize.js';
import { Rng } from '../../src/util/rng.js';

after(() => setImageKernels(true));

function randomPlanar(rng: Rng, width: number, height: number): PlanarImage {
  return { width, height, data: Float32Array.from({ length: 3 * width * height }, () => rng.uniform(0, 1)) };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs `op` on copies of `img` with the kernels and with the JS loops; returns both results. */
function bothPaths(img: PlanarImage, op: (img: PlanarImage) => void): { simd: Float32Array; js: Float32Array } {
  const simd = { ...img, data: img.data.slice() };
  const js = { ...img, data: img.data.slice() };
  setImageKernels(true);
  op(simd);
  setImageKernels(false);
  op(js);
  setImageKernels(true);
  return { simd: simd.data, js: js.data };
}

const SIZES: [number, number][] = [[1, 1], [2, 7], [5, 3], [37, 29], [48, 48], [96, 96]];

describe('augmentation kernels equal the JS loops', () => {
  it('WebAssembly SIMD is available here (so the comparisons below compare two paths)', () => {
    setImageKernels(true);
    assert.ok(imageKernels(16), 'no WebAssembly SIMD kernels');
  });

  it('gaussian blur: sigmas 0.3-2, kernels wider than the image, every size', () => {
    const rng = new Rng(1);
    for (const [w, h] of SIZES) {
      for (const [sigma, size] of [[0.3, undefined], [1.2, undefined], [2, undefined], [1.5, 23]] as const) {
        const { simd, js } = bothPaths(randomPlanar(rng, w, h), (img) => gaussianBlur(img, sigma, size));
        assert.ok(maxAbsDiff(simd, js) < 1e-6, `${w}x${h} sigma ${sigma}: ${maxAbsDiff(simd, js)}`);
      }
    }
  });

  it('brightness, contrast, saturation, grayscale and normalize', () => {
    const rng = new Rng(2);
    const ops: [string, (img: PlanarImage) => void][] = [
      ['brightness', (img) => adjustBrightness(img, 1.37)],
      ['contrast', (img) => adjustContrast(img, 0.61)],
      ['saturation', (img) => adjustSaturation(img, 1.8)],
      ['grayscale', toGrayscale],
      ['normalize', (img) => normalize(img, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] })],
    ];
    for (const [w, h] of SIZES) {
      for (const [name, op] of ops) {
        const { simd, js } = bothPaths(randomPlanar(rng, w, h), op);
        assert.ok(maxAbsDiff(simd, js) < 2e-6, `${name} ${w}x${h}: ${maxAbsDiff(simd, js)}`);
        if (name === 'brightness' || name === 'saturation') assert.ok(simd.every((x) => x >= 0 && x <= 1), `${name} clamps to [0, 1]`);
      }
    }
  });

  it('crop + resize: shrinking, enlarging, odd boxes and sizes', () => {
    const rng = new Rng(3);
    const src: RgbImage = { width: 61, height: 45, data: Uint8Array.from({ length: 61 * 45 * 3 }, () => rng.int(256)) };
    const cases: [CropBox, number, number][] = [
      [{ top: 0, left: 0, width: 61, height: 45 }, 16, 16],
      [{ top: 3, left: 7, width: 50, height: 41 }, 23, 9],
      [{ top: 10, left: 20, width: 9, height: 5 }, 32, 31],
      [{ top: 44, left: 60, width: 1, height: 1 }, 3, 2],
      [{ top: 2, left: 1, width: 13, height: 13 }, 13, 13],
    ];
    for (const [box, w, h] of cases) {
      const { simd, js } = bothPaths({ width: w, height: h, data: new Float32Array(3 * w * h) }, (out) => resizeCrop(src, box, out));
      assert.ok(maxAbsDiff(simd, js) < 1e-6, `${JSON.stringify(box)} -> ${w}x${h}: ${maxAbsDiff(simd, js)}`);
    }
  });
});

describe('the JS loops match torchvision too', () => {
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/data/torchvision.json'), 'utf8')) as {
    height: number;
    width: number;
    input: number[];
    blur: { sigma: number; output: number[] }[];
    resize: { src_height: number; src_width: number; src: number[]; box: CropBox; outputs: { size: number; output: number[] }[] };
  };

  it('blur and resize without the kernels', () => {
    setImageKernels(false);
    try {
      for (const ref of fixture.blur) {
        const img = { width: fixture.width, height: fixture.height, data: Float32Array.from(fixture.input) };
        gaussianBlur(img, ref.sigma);
        assert.ok(maxAbsDiff(img.data, ref.output) < 2e-6, `blur sigma ${ref.sigma}`);
      }
      const r = fixture.resize;
      const src: RgbImage = { width: r.src_width, height: r.src_height, data: Uint8Array.from(r.src) };
      for (const ref of r.outputs) {
        const out = { width: ref.size, height: ref.size, data: new Float32Array(3 * ref.size * ref.size) };
        resizeCrop(src, r.box, out);
        assert.ok(maxAbsDiff(out.data, ref.output) < 1e-5, `resize to ${ref.size}`);
      }
    } finally {
      setImageKernels(true);
    }
  });
});
