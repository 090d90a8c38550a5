// Per-channel standardisation of a planar view (in place), and its inverse back to 8-bit RGB for previews.
import type { PlanarImage } from './image.js';
import { withImageInKernels } from './image-kernels.js';

export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export function normalize(img: PlanarImage, { mean, std }: Normalization): void {
  const d = img.data;
  const n = img.width * img.height;
  if (withImageInKernels(d, 0, (k) => [0, 1, 2].forEach((c) => k.standardize(4 * c * n, n, mean[c], 1 / std[c])))) return;
  for (let c = 0; c < 3; c++) {
    const m = mean[c];
    const inv = 1 / std[c];
    const end = (c + 1) * n;
    for (let i = c * n; i < end; i++) d[i] = (d[i] - m) * inv;
  }
}

/** Planar normalised floats -> interleaved RGB uint8 (rounded, clamped). */
export function denormalizeToRgb(planar: Float32Array, width: number, height: number, { mean, std }: Normalization): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = Math.round((planar[c * n + i] * std[c] + mean[c]) * 255);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
