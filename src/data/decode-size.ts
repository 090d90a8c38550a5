// How small an image can be decoded without coarsening any view: the short side below which a
// RandomResizedCrop could have fewer source pixels than its output, across all the views a config asks for.
import type { ViewSpec } from './views.js';

/**
 * The smallest short side s (pixels) such that every crop sampleCropBox can draw from an image whose
 * short side is s has at least `size` pixels along both sides, for every spec; a decode reduced to this
 * short side (never below) gives views that are downsampled from the reduced image, as they are from
 * the full one, so they differ from full-resolution views only by the resize kernels.
 *
 * For one view with output side S, scale [σ, _] and ratio [r0, r1], on an image of area A ≥ s²:
 * - a random crop has area A·σ' (σ' ≥ σ) and aspect a ∈ [r0, r1], sides √(A·σ'·a) and √(A·σ'/a), so
 *   its shorter side is ≥ √(A·σ)·√q ≥ s·√(σ·q), where q = min(r0, 1/r0, r1, 1/r1) is the smallest
 *   min(a, 1/a) over the ratio range;
 * - the fallback crop (the whole image narrowed to the ratio range) has its shorter side ≥ s·min(1, r1, 1/r0) ≥ s·q.
 * Both are ≥ S when s ≥ S / min(√(σ·q), q); one pixel more covers the rounding of the crop sides.
 * DINO's presets: global 224 px, σ 0.14, ratio [3/4, 4/3] -> 693; local 96 px, σ 0.05 -> 497.
 */
export function decodeShortSide(specs: readonly ViewSpec[]): number {
  let side = 1;
  for (const { size, scale, ratio } of specs) {
    const [r0, r1] = ratio;
    const q = Math.min(r0, 1 / r0, r1, 1 / r1);
    const shrink = Math.min(Math.sqrt(scale[0] * q), q);
    side = Math.max(side, Math.ceil(size / shrink) + 1);
  }
  return side;
}
