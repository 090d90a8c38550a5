// Stochastic depth: a residual branch is kept or dropped per sample. The keep masks are graph inputs [N] drawn in
// JS from the seeded RNG, already scaled by 1/keep_prob (0 or 1/(1-rate)), one per residual branch.

import type { Graph, Tensor } from '../../graph/index.js';
import { Rng } from '../../util/rng.js';

export function dropPath(g: Graph, branch: Tensor, keep: Tensor | undefined): Tensor {
  if (!keep) return branch;
  const shape = [keep.shape[0], ...Array<number>(branch.rank - 1).fill(1)];
  return g.mul(branch, g.reshape(keep, shape));
}

/** Per-block drop rates: DINO's linear ramp 0..rate over the depth, or DINOv2's uniform rate. */
export function dropPathRates(depth: number, rate: number, uniform = false): number[] {
  return Array.from({ length: depth }, (_, i) => (uniform ? rate : depth > 1 ? (rate * i) / (depth - 1) : rate));
}

/** One keep mask [n]: each entry 0 with probability `rate`, else 1/(1-rate). */
export function sampleKeepMask(rng: Rng, n: number, rate: number): Float32Array {
  const out = new Float32Array(n);
  if (rate <= 0) return out.fill(1);
  for (let i = 0; i < n; i++) out[i] = rng.bernoulli(rate) ? 0 : 1 / (1 - rate);
  return out;
}
