// iBOT block masks for DINOv2, as a pure function of an Rng. Facts from dinov2's MaskingGenerator
// and collate_data_and_cast: in a batch of n global crops, floor(n * probability) get a mask whose
// target size is drawn between consecutive points of linspace(ratio_lo, ratio_hi, k+1) (so ratios
// spread across the batch); the others get none; the list is shuffled. A mask is a union of random
// rectangles (area >= min_patches, log-uniform aspect ratio in [min_aspect, 1/min_aspect]) added
// until the target is reached or 10 tries in a row add nothing.
import type { Rng } from '../util/rng.js';
import { roundHalfEven } from './crop.js';

export interface MaskOptions {
  /** Range of the masked fraction of patches, spread across the masked images. */
  ratio: readonly [number, number];
  /** Fraction of global crops that get a mask. */
  probability: number;
  /** Smallest block (in patches). */
  minPatches: number;
  /** Block aspect ratios lie in [minAspect, 1/minAspect]. */
  minAspect: number;
  /** Largest block, as a fraction of all patches (dinov2: 0.5). */
  maxBlockFraction: number;
}

export const DEFAULT_MASK_OPTIONS: MaskOptions = {
  ratio: [0.1, 0.5],
  probability: 0.5,
  minPatches: 4,
  minAspect: 0.3,
  maxBlockFraction: 0.5,
};

export interface MaskBlock {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Tries up to 10 rectangles; marks the first that adds 1..maxNew new patches. Returns patches added. */
function addBlock(
  rng: Rng,
  mask: Uint8Array,
  h: number,
  w: number,
  maxNew: number,
  opts: MaskOptions,
  onBlock?: (b: MaskBlock) => void,
): number {
  const logLo = Math.log(opts.minAspect);
  const logHi = -logLo;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = rng.uniform(opts.minPatches, Math.max(opts.minPatches, maxNew));
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const bh = roundHalfEven(Math.sqrt(area * aspect));
    const bw = roundHalfEven(Math.sqrt(area / aspect));
    if (bh * bw < opts.minPatches || bw >= w || bh >= h) continue;
    const top = rng.int(h - bh + 1);
    const left = rng.int(w - bw + 1);
    let already = 0;
    for (let y = top; y < top + bh; y++) for (let x = left; x < left + bw; x++) already += mask[y * w + x];
    const added = bh * bw - already;
    if (added > 0 && added <= maxNew) {
      for (let y = top; y < top + bh; y++) mask.fill(1, y * w + left, y * w + left + bw);
      onBlock?.({ top, left, height: bh, width: bw });
      return added;
    }
  }
  return 0;
}

/** Fills `mask` (h*w, zeroed by the caller) with about `target` masked patches. Returns how many. */
export function blockMask(
  rng: Rng,
  h: number,
  w: number,
  target: number,
  mask: Uint8Array,
  opts: MaskOptions = DEFAULT_MASK_OPTIONS,
  onBlock?: (b: MaskBlock) => void,
): number {
  const maxBlock = opts.maxBlockFraction * h * w;
  let count = 0;
  while (count < target) {
    const added = addBlock(rng, mask, h, w, Math.min(target - count, maxBlock), opts, onBlock);
    if (added === 0) break;
    count += added;
  }
  return count;
}

/**
 * Masks for `n` images on an h x w patch grid: Uint8Array [n, h*w] (1 = masked), row r for image r.
 * `onBlock(row, block)` sees every rectangle placed (for tests and visualisation).
 */
export function batchMasks(
  rng: Rng,
  n: number,
  h: number,
  w: number,
  opts: MaskOptions = DEFAULT_MASK_OPTIONS,
  out: Uint8Array = new Uint8Array(n * h * w),
  onBlock?: (row: number, block: MaskBlock) => void,
): Uint8Array {
  const patches = h * w;
  out.fill(0, 0, n * patches);
  const masked = Math.floor(n * opts.probability);
  // Which row each generated mask lands in: the masked ones first, then shuffled like dinov2's list.
  const rows = Array.from({ length: n }, (_, i) => i);
  const targets = new Array<number>(n).fill(0);
  for (let i = 0; i < masked; i++) {
    const lo = opts.ratio[0] + ((opts.ratio[1] - opts.ratio[0]) * i) / masked;
    const hi = opts.ratio[0] + ((opts.ratio[1] - opts.ratio[0]) * (i + 1)) / masked;
    targets[i] = Math.floor(patches * rng.uniform(lo, hi));
  }
  const generated: Uint8Array[] = [];
  const blocks: MaskBlock[][] = [];
  for (let i = 0; i < n; i++) {
    const m = new Uint8Array(patches);
    const placed: MaskBlock[] = [];
    if (targets[i] > 0) blockMask(rng, h, w, targets[i], m, opts, (b) => placed.push(b));
    generated.push(m);
    blocks.push(placed);
  }
  rng.shuffle(rows);
  for (let i = 0; i < n; i++) {
    out.set(generated[i], rows[i] * patches);
    if (onBlock) for (const b of blocks[i]) onBlock(rows[i], b);
  }
  return out;
}
