// KoLeo regulariser (Sablayrolles et al. 2018; dinov2/loss/koleo_loss.py): spreads the L2-normalised features of a
// batch by pushing each one away from its nearest neighbour, −mean log(‖x − x_nn‖ + ε). The neighbour is found by the
// largest inner product with the sample itself excluded; that choice is a constant selection (one-hot of the arg-max),
// so the gradient flows through the distance only, as with torch's indexing.
import type { Graph, Tensor } from '../../graph/index.js';

/**
 * @param features [C, N, D]: C independent groups (dinov2: one per global crop, so the two crops of an image never
 *   pair up), N samples each
 * @returns the loss of each group [C]
 */
export function koleoLoss(g: Graph, features: Tensor, eps = 1e-8): Tensor {
  const n = features.shape[1];
  const x = g.l2Normalize(features, -1, eps); // F.normalize: x / max(‖x‖, ε)
  const dots = g.matmul(x, g.transpose(x, [0, 2, 1])); // [C, N, N]
  const others = g.where(g.eyeMask(n), -1, g.stopGradient(dots)); // dinov2 fills the diagonal with −1
  const nearest = g.argMax(others, 2, false); // [C, N]
  const pick = g.cast(g.equal(g.unsqueeze(nearest, [-1]), g.range(n)), x.dtype); // one-hot rows [C, N, N]
  const neighbour = g.matmul(pick, x);
  // torch's PairwiseDistance(eps) measures ‖a − b + ε‖
  const distance = g.reduceL2(g.add(g.sub(x, neighbour), eps), [2], false); // [C, N]
  return g.neg(g.reduceMean(g.log(g.add(distance, eps)), [1], false));
}
