// Gaussian blur of a planar view: a separable kernel exp(-x²/2σ²) sampled at integer offsets and
// normalised (torchvision's _get_gaussian_kernel1d), reflect padding (torch 'reflect', OpenCV
// BORDER_REFLECT_101). Kernel side from sigma as albumentations' PIL-matching rule when not fixed.
import type { PlanarImage } from './image.js';
import { imageKernels, type ImageKernels } from './image-kernels.js';

/** 2*floor(3.5σ)+1: the kernel side used when the config's kernel_size is 0. */
export function kernelSizeForSigma(sigma: number): number {
  return Math.floor(sigma * 3.5) * 2 + 1;
}

export function gaussianKernel1d(sigma: number, size: number): Float32Array {
  const half = (size - 1) / 2;
  const kernel = new Float32Array(size);
  let total = 0;
  for (let i = 0; i < size; i++) {
    const x = (i - half) / sigma;
    const v = Math.exp(-0.5 * x * x);
    kernel[i] = v;
    total += v;
  }
  for (let i = 0; i < size; i++) kernel[i] /= total;
  return kernel;
}

/** Index reflected into [0, n) without repeating the edge pixel (…2 1 | 0 1 2 … n-1 | n-2 …). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

let scratch = new Float32Array(0);

export function gaussianBlur(img: PlanarImage, sigma: number, kernelSize = kernelSizeForSigma(sigma)): void {
  if (kernelSize <= 1) return;
  const kernel = gaussianKernel1d(sigma, kernelSize);
  const k = imageKernels(blurScratchFloats(img.width, img.height, (kernelSize - 1) >> 1));
  if (k) blurSimd(k, img, kernel);
  else blurJs(img, kernel);
}

/** The blur in plain JS (the fallback without WebAssembly SIMD; the reference the SIMD path is tested against). */
export function blurJs(img: PlanarImage, kernel: Float32Array): void {
  const kernelSize = kernel.length;
  const { width: w, height: h, data } = img;
  const half = (kernelSize - 1) >> 1;
  const plane = w * h;
  if (scratch.length < plane) scratch = new Float32Array(plane);
  const tmp = scratch;
  // Source column/row for every padded position, so the inner loops have no branches.
  const colIndex = new Int32Array(w + 2 * half);
  for (let i = 0; i < colIndex.length; i++) colIndex[i] = reflect(i - half, w);
  const rowIndex = new Int32Array(h + 2 * half);
  for (let i = 0; i < rowIndex.length; i++) rowIndex[i] = reflect(i - half, h) * w;

  // The kernel is symmetric: pixels at -k and +k share a weight, halving the multiplies.
  const centre = kernel[half];
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    // Horizontal into tmp: reflected borders through colIndex, the interior with plain offsets.
    for (let y = 0; y < h; y++) {
      const row = base + y * w;
      const out = y * w;
      const interiorEnd = w - half;
      for (let x = 0; x < w; x++) {
        let acc: number;
        if (x >= half && x < interiorEnd) {
          const p = row + x;
          acc = data[p] * centre;
          for (let k = 1; k <= half; k++) acc += (data[p - k] + data[p + k]) * kernel[half + k];
        } else {
          acc = 0;
          for (let k = 0; k < kernelSize; k++) acc += data[row + colIndex[x + k]] * kernel[k];
        }
        tmp[out + x] = acc;
      }
    }
    // Vertical back into the image: each output row is a weighted sum of whole tmp rows.
    for (let y = 0; y < h; y++) {
      const out = base + y * w;
      const mid = rowIndex[y + half];
      for (let x = 0; x < w; x++) data[out + x] = tmp[mid + x] * centre;
      for (let k = 1; k <= half; k++) {
        const above = rowIndex[y + half - k];
        const below = rowIndex[y + half + k];
        const wk = kernel[half + k];
        for (let x = 0; x < w; x++) data[out + x] += (tmp[above + x] + tmp[below + x]) * wk;
      }
    }
  }
}

/**
 * Scratch for blurSimd: rows padded by `half` reflected pixels on each side (stride W = w + 2·half); the input
 * (h rows), the horizontal result with `half` reflected rows above and below (h + 2·half rows), the output (h rows).
 */
function blurScratchFloats(w: number, h: number, half: number): number {
  return (w + 2 * half) * (3 * h + 2 * half) + 8;
}

/**
 * The same blur with SIMD kernels: with reflected padding in memory, each pass over a whole plane is one
 * element-wise kernel call per pair of symmetric taps (outputs that land in the padding are never read back).
 */
function blurSimd(k: ImageKernels, img: PlanarImage, kernel: Float32Array): void {
  const { width: w, height: h, data } = img;
  const half = (kernel.length - 1) >> 1;
  const W = w + 2 * half;
  const m = k.f32;
  const input = 0, rows = h * W, out = rows + (h + 2 * half) * W;
  const mid = rows + half * W; // first unpadded row of the horizontal result
  const plane = w * h;
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    for (let y = 0; y < h; y++) {
      const src = base + y * w, row = input + y * W;
      m.set(data.subarray(src, src + w), row + half);
      for (let i = 1; i <= half; i++) {
        m[row + half - i] = data[src + reflect(-i, w)];
        m[row + half + w - 1 + i] = data[src + reflect(w - 1 + i, w)];
      }
    }
    // horizontal: every position but the first and last `half` of the flat input
    const n = rows - 2 * half;
    k.taps0(4 * (mid + half), 4 * (input + half), n, kernel[half]);
    for (let t = 1; t <= half; t++) k.tapsPair(4 * (mid + half), 4 * (input + half - t), 4 * (input + half + t), n, kernel[half + t]);
    for (let i = 1; i <= half; i++) {
      m.copyWithin(mid - i * W, mid + reflect(-i, h) * W, mid + reflect(-i, h) * W + W);
      m.copyWithin(mid + (h - 1 + i) * W, mid + reflect(h - 1 + i, h) * W, mid + reflect(h - 1 + i, h) * W + W);
    }
    // vertical: rows `t` above and below
    k.taps0(4 * out, 4 * mid, rows, kernel[half]);
    for (let t = 1; t <= half; t++) k.tapsPair(4 * out, 4 * (mid - t * W), 4 * (mid + t * W), rows, kernel[half + t]);
    for (let y = 0; y < h; y++) data.set(m.subarray(out + y * W + half, out + y * W + half + w), base + y * w);
  }
}
