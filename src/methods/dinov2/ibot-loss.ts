// iBOT's masked-patch loss (dinov2/loss/ibot_patch_loss.py, forward_masked): the student sees the global crops with
// some patches replaced by the mask token and predicts, for each masked patch, the teacher's distribution over
// prototypes for the same patch seen unmasked. Cross-entropy per masked patch, weighted by 1 / (masked patches of its
// image) so each image weighs the same whatever its mask size, summed, and divided by the number of global-crop
// images, the unmasked ones included (they add nothing), as dinov2 divides by the batch of masks.
import type { Graph, Tensor } from '../../graph/index.js';

/**
 * @param studentLogits student head outputs of the masked patches [M, K]
 * @param teacherProbs the teacher's targets for the same patches [M, K] (no gradient flows into them)
 * @param weights [M] 1 / masked patches of the patch's image (0 for a padding row)
 * @param images number of global-crop images in the batch (a scalar)
 */
export function ibotLoss(g: Graph, studentLogits: Tensor, teacherProbs: Tensor, weights: Tensor, images: Tensor, studentTemp: number): Tensor {
  const logp = g.logSoftmax(g.div(studentLogits, studentTemp), -1);
  const cross = g.reduceSum(g.mul(g.stopGradient(teacherProbs), logp), [1], false); // [M]
  return g.neg(g.div(g.reduceSum(g.mul(cross, weights), undefined, false), images));
}

/**
 * The teacher's softmax-centred targets for patches, softmax((t − center) / τt) [M, K], and the mean logit of the
 * valid rows [1, K] for the patch center's moving average (dinov2 keeps separate centers for class and patch tokens).
 * @param valid [M] 1 for real masked patches, 0 for padding
 */
export function ibotTeacherTargets(g: Graph, logits: Tensor, center: Tensor, temp: Tensor, valid: Tensor): { probs: Tensor; batchCenter: Tensor } {
  const probs = g.softmax(g.div(g.sub(logits, center), temp), -1);
  const v = g.unsqueeze(valid, [1]);
  const count = g.max(g.reduceSum(valid, undefined, true), 1);
  const batchCenter = g.div(g.reduceSum(g.mul(logits, v), [0], true), count);
  return { probs, batchCenter };
}
