// Sinkhorn-Knopp teacher targets (SwAV; DINOv2's sinkhorn_knopp_teacher): instead of centring, the teacher's
// exp(logits / τ) is balanced so that every prototype receives the same total mass over the batch and every sample
// is a distribution over prototypes. 3 alternating row / column normalisations, as dinov2.
//
// dinov2 also divides by the total mass, by K and by the batch size B and multiplies by B at the end; each of those is
// a global scale that the next normalisation removes, so dividing by the prototype sums and the sample sums alone
// gives the same matrix. That is what makes the masked-patch variant simple: B (the number of masked patches) never
// enters, invalid rows are zeroed before balancing and so carry no mass. The graph has no gradient (teacher side).
import type { Graph, Tensor } from '../../graph/index.js';

export interface SinkhornOptions {
  /** normalisation rounds (dinov2: 3) */
  iterations?: number;
  /** [B] 1 for rows that take part, 0 for rows to leave out (they come back as zeros); default: all rows */
  valid?: Tensor;
}

/** logits [B, K] -> assignments [B, K] whose valid rows each sum to 1 and whose prototypes share the mass equally. */
export function sinkhornKnopp(g: Graph, logits: Tensor, temp: Tensor | number, opts: SinkhornOptions = {}): Tensor {
  const iterations = opts.iterations ?? 3;
  let s = g.div(g.stopGradient(logits), temp);
  // a global shift cancels in the first normalisation and keeps exp() in range for any logits
  s = g.sub(s, g.stopGradient(g.reduceMax(s, undefined, true)));
  let q = g.exp(s);
  if (opts.valid) q = g.mul(q, g.unsqueeze(opts.valid, [1]));
  // an all-zero row or column (no valid sample, an unused prototype) stays zero instead of becoming 0/0
  const safe = (sum: Tensor) => g.where(g.greater(sum, 0), sum, 1);
  for (let i = 0; i < iterations; i++) {
    q = g.div(q, safe(g.reduceSum(q, [0], true))); // each prototype: the same total mass
    q = g.div(q, safe(g.reduceSum(q, [1], true))); // each sample: a distribution
  }
  return q;
}
