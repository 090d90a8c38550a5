// Gaussian blur of a planar view: a separable kernel exp(-x²/2σ²) sampled at integer offsets and
// normalised (torchvision's _get_gaussian_kernel1d), reflect padding (torch 'reflect', OpenCV
// BORDER_REFLECT_101). Kernel side from sigma as albumentations' PIL-matching rule when not fixed.
import type { PlanarImage } from './image.js';

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
  const { width: w, height: h, data } = img;
  const kernel = gaussianKernel1d(sigma, kernelSize);
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
