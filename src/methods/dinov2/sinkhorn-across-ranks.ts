// Sinkhorn-Knopp over a batch split across the processes of a data-parallel job: the same balancing as
// sinkhorn-knopp.ts (which runs inside the teacher graph when the batch is whole), with each prototype's total mass
// summed over every rank (an all-reduce of K sums per round), as dinov2's distributed sinkhorn_knopp_teacher does.
// The shift that keeps exp() in range is the job's largest score, so every rank scales its rows alike.
import type { Communicator } from '../../distributed/communicator.js';

/**
 * scores [B, K] (teacher logits / τ, this rank's rows) -> assignments [B, K]; `valid` [B] leaves rows out (they come
 * back as zeros). Every rank must call it (a collective).
 */
export function sinkhornAcrossRanks(scores: Float32Array, K: number, comm: Communicator, valid?: ArrayLike<number>, iterations = 3): Float32Array {
  const B = scores.length / K;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  const m = Float64Array.of(max);
  comm.allreduceMax(m);
  const q = new Float64Array(scores.length);
  for (let b = 0; b < B; b++) {
    if (valid && !(valid[b] > 0)) continue;
    for (let k = 0; k < K; k++) q[b * K + k] = Math.exp(scores[b * K + k] - m[0]);
  }
  const cols = new Float64Array(K);
  for (let it = 0; it < iterations; it++) {
    cols.fill(0);
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) cols[k] += q[b * K + k];
    comm.allreduceSum(cols);
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) if (cols[k] > 0) q[b * K + k] /= cols[k];
    for (let b = 0; b < B; b++) {
      let row = 0;
      for (let k = 0; k < K; k++) row += q[b * K + k];
      if (row > 0) for (let k = 0; k < K; k++) q[b * K + k] /= row;
    }
  }
  return Float32Array.from(q);
}
