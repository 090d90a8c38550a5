// Per-pixel colour operations on planar RGB floats in [0, 1], in place, with the formulas of
// torchvision's tensor functional ops (adjust_brightness/contrast/saturation/hue, rgb_to_grayscale,
// solarize): each blends and clamps to [0, 1] so they compose in any order.
import type { Rng } from '../util/rng.js';
import type { PlanarImage } from './image.js';
import { LUMA, withImageInKernels } from './image-kernels.js';

const [LUMA_R, LUMA_G, LUMA_B] = LUMA;

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

export function flipHorizontal(img: PlanarImage): void {
  const { width, height, data } = img;
  for (let row = 0; row < 3 * height; row++) {
    let a = row * width;
    let b = a + width - 1;
    while (a < b) {
      const t = data[a];
      data[a++] = data[b];
      data[b--] = t;
    }
  }
}

// Each adjustment runs as a WebAssembly SIMD kernel (image-kernels.ts) where it can, else as the JS loop.

export function adjustBrightness(img: PlanarImage, factor: number): void {
  const d = img.data;
  const n = img.width * img.height * 3;
  if (withImageInKernels(d, 0, (k) => k.scaleClamp(0, n, factor))) return;
  for (let i = 0; i < n; i++) d[i] = clamp01(d[i] * factor);
}

/** Blends towards the mean luma of the whole image. */
export function adjustContrast(img: PlanarImage, factor: number): void {
  const d = img.data;
  const n = img.width * img.height;
  const simd = withImageInKernels(d, n, (k) => {
    k.lumaOf(12 * n, 0, 4 * n, 8 * n, n);
    let sum = 0;
    for (let i = 3 * n; i < 4 * n; i++) sum += k.f32[i];
    k.affineClamp(0, 3 * n, factor, (1 - factor) * (sum / n));
  });
  if (simd) return;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += LUMA_R * d[i] + LUMA_G * d[n + i] + LUMA_B * d[2 * n + i];
  const offset = (1 - factor) * (sum / n);
  for (let i = 0; i < 3 * n; i++) d[i] = clamp01(factor * d[i] + offset);
}

/** Blends towards each pixel's own luma. */
export function adjustSaturation(img: PlanarImage, factor: number): void {
  const d = img.data;
  const n = img.width * img.height;
  const keep = 1 - factor;
  if (withImageInKernels(d, 0, (k) => k.saturate(0, 4 * n, 8 * n, n, factor, keep))) return;
  for (let i = 0; i < n; i++) {
    const r = d[i];
    const g = d[n + i];
    const b = d[2 * n + i];
    const gray = keep * (LUMA_R * r + LUMA_G * g + LUMA_B * b);
    d[i] = clamp01(factor * r + gray);
    d[n + i] = clamp01(factor * g + gray);
    d[2 * n + i] = clamp01(factor * b + gray);
  }
}

/** Rotates hue by `shift` turns (in [-0.5, 0.5]) through HSV, as torchvision's _rgb2hsv/_hsv2rgb. */
export function adjustHue(img: PlanarImage, shift: number): void {
  const d = img.data;
  const n = img.width * img.height;
  // Hue is kept in sixths of a turn, [0, 6), wrapped by comparisons (float % is slow in V8).
  const shift6 = shift * 6;
  for (let i = 0; i < n; i++) {
    const r = d[i];
    const g = d[n + i];
    const b = d[2 * n + i];
    const v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    const chroma = v - minc;
    if (chroma === 0) continue; // gray: hue is undefined and the pixel is unchanged
    const s = chroma / v;
    let h6: number;
    if (v === r) h6 = (g - b) / chroma;
    else if (v === g) h6 = 2 + (b - r) / chroma;
    else h6 = 4 + (r - g) / chroma;
    if (h6 < 0) h6 += 6;
    h6 += shift6;
    if (h6 < 0) h6 += 6;
    else if (h6 >= 6) h6 -= 6;

    const sector = Math.floor(h6);
    const f = h6 - sector;
    const p = clamp01(v * (1 - s));
    const q = clamp01(v * (1 - s * f));
    const t = clamp01(v * (1 - s * (1 - f)));
    let ro = v;
    let go = p;
    let bo = q; // sector 5
    if (sector === 0) { go = t; bo = p; }
    else if (sector === 1) { ro = q; go = v; bo = p; }
    else if (sector === 2) { ro = p; go = v; bo = t; }
    else if (sector === 3) { ro = p; go = q; bo = v; }
    else if (sector === 4) { ro = t; go = p; bo = v; }
    d[i] = ro;
    d[n + i] = go;
    d[2 * n + i] = bo;
  }
}

/** Luma copied into all three channels. */
export function toGrayscale(img: PlanarImage): void {
  const d = img.data;
  const n = img.width * img.height;
  const simd = withImageInKernels(d, 0, (k) => {
    k.lumaOf(0, 0, 4 * n, 8 * n, n);
    k.f32.copyWithin(n, 0, n);
    k.f32.copyWithin(2 * n, 0, n);
  });
  if (simd) return;
  for (let i = 0; i < n; i++) {
    const gray = LUMA_R * d[i] + LUMA_G * d[n + i] + LUMA_B * d[2 * n + i];
    d[i] = gray;
    d[n + i] = gray;
    d[2 * n + i] = gray;
  }
}

/** Inverts every value at or above `threshold`. */
export function solarize(img: PlanarImage, threshold: number): void {
  const d = img.data;
  const n = img.width * img.height * 3;
  for (let i = 0; i < n; i++) if (d[i] >= threshold) d[i] = 1 - d[i];
}

export interface JitterStrength {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/**
 * torchvision's ColorJitter: factors drawn uniformly in [max(0, 1-s), 1+s] (hue in [-h, h]), then
 * the four adjustments in a random order. An adjustment with strength 0 is skipped.
 */
export function colorJitter(img: PlanarImage, rng: Rng, s: JitterStrength): void {
  const order = [0, 1, 2, 3];
  rng.shuffle(order);
  const brightness = rng.uniform(Math.max(0, 1 - s.brightness), 1 + s.brightness);
  const contrast = rng.uniform(Math.max(0, 1 - s.contrast), 1 + s.contrast);
  const saturation = rng.uniform(Math.max(0, 1 - s.saturation), 1 + s.saturation);
  const hue = rng.uniform(-s.hue, s.hue);
  for (const op of order) {
    if (op === 0 && s.brightness > 0) adjustBrightness(img, brightness);
    else if (op === 1 && s.contrast > 0) adjustContrast(img, contrast);
    else if (op === 2 && s.saturation > 0) adjustSaturation(img, saturation);
    else if (op === 3 && s.hue > 0) adjustHue(img, hue);
  }
}
