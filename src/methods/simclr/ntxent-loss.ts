// SimCLR's NT-Xent loss (Chen et al. 2020; lightly's NTXentLoss without a memory bank): the 2N projections are
// L2-normalised, every pair's cosine similarity is divided by τ, and each of the 2N anchors is a 2N−1-way
// classification of its positive (the other view of the same image) against all other projections in the batch.
// The loss is the mean cross-entropy over the 2N anchors.
import type { Graph, Tensor } from '../../graph/index.js';

/**
 * Stands in for −∞ on the diagonal of the similarity matrix (an anchor is not its own candidate). A finite value
 * keeps log-softmax finite there, so masking the positives by multiplication gives 0·finite, never 0·∞ = NaN.
 */
const SELF_LOGIT = -1e9;

/**
 * @param z projections [2N, D], view-major: rows 0..N−1 are view 0 of images 0..N−1, rows N..2N−1 view 1
 * @param temperature τ (SimCLR: 0.1 with large batches, 0.5 in the paper's small-batch CIFAR runs)
 * @returns the scalar loss
 */
export function ntXentLoss(g: Graph, z: Tensor, temperature: number): Tensor {
  if (z.rank !== 2) throw new Error(`NT-Xent expects projections [2N, D], got rank ${z.rank}`);
  if (!(temperature > 0)) throw new Error(`NT-Xent temperature must be positive, got ${temperature}`);
  const rows = z.shape[0];
  const zn = g.l2Normalize(z, -1, 1e-12);
  const logits = g.div(g.matmul(zn, g.transpose(zn, [1, 0])), temperature); // [2N, 2N]
  const masked = g.where(g.eyeMask(rows), SELF_LOGIT, logits);
  const logProb = g.logSoftmax(masked, -1);
  // positive of row i: row (i + N) mod 2N, i.e. the index vector 0..2N−1 with its two halves swapped
  const index = g.range(rows);
  const partner = g.reshape(g.gather(g.reshape(index, [2, -1]), [1, 0], 0), [-1]);
  const positives = g.cast(g.equal(g.unsqueeze(index, [1]), g.unsqueeze(partner, [0])), logProb.dtype);
  const perAnchor = g.neg(g.reduceSum(g.mul(logProb, positives), [1], false)); // [2N]
  return g.reduceMean(perAnchor, undefined, false);
}

/**
 * NT-Xent in a data-parallel job, for one rank: the projections of every rank `zAll` [ranks·2n, D] (rank-major,
 * each rank's rows view-major as ntXentLoss takes them), this rank's 2n rows as the anchors, every row of the job as
 * a candidate (lightly's gather_distributed). The mean over this rank's anchors; the mean over ranks is the loss of
 * the whole batch. With one rank it is ntXentLoss.
 */
export function ntXentAcrossRanks(g: Graph, zAll: Tensor, rank: number, ranks: number, temperature: number): Tensor {
  const rows = zAll.shape[0] as number;
  const local = rows / ranks;
  const n = local / 2;
  const zn = g.l2Normalize(zAll, -1, 1e-12);
  const anchors = g.gather(zn, Array.from({ length: local }, (_, j) => rank * local + j), 0); // [2n, D]
  const logits = g.div(g.matmul(anchors, g.transpose(zn, [1, 0])), temperature); // [2n, rows]
  const self = new Float32Array(local * rows);
  const positives = new Float32Array(local * rows);
  for (let j = 0; j < local; j++) {
    self[j * rows + rank * local + j] = 1;
    positives[j * rows + rank * local + ((j + n) % local)] = 1; // view v of sample i pairs with view 1 − v of sample i
  }
  const masked = g.where(g.const(Uint8Array.from(self), [local, rows], 'bool'), SELF_LOGIT, logits);
  const logProb = g.logSoftmax(masked, -1);
  const perAnchor = g.neg(g.reduceSum(g.mul(logProb, g.const(positives, [local, rows])), [1], false));
  return g.reduceMean(perAnchor, undefined, false);
}
