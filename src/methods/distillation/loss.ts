// The distillation losses. Both compare distributions rather than raw features, so the student's projection only has
// to reproduce the teacher's geometry, not its scale:
// - global: each image's L2-normalised embedding is scored against a queue of recent teacher embeddings (a pseudo
//   classifier of past images); the student's softmax over the queue matches the teacher's (KL divergence).
// - dense: within each image, every patch's similarities to the other patches form a softmax; the student's matches
//   the teacher's, patch by patch, on the teacher's grid.
// KL(p_teacher ‖ p_student) summed over the softmax axis and averaged over rows, as torch's
// KLDivLoss(reduction='batchmean') on flattened rows. Every input is L2-normalised along its last axis.
import type { Graph, Tensor } from '../../graph/index.js';

/** Mean over rows of KL(softmax(teacher) ‖ softmax(student)) along the last axis; the teacher gets no gradient. */
function klDivergence(g: Graph, teacherLogits: Tensor, studentLogits: Tensor): Tensor {
  const logP = g.logSoftmax(teacherLogits, -1);
  const p = g.exp(logP);
  const perRow = g.reduceSum(g.mul(p, g.sub(logP, g.logSoftmax(studentLogits, -1))), [-1], false);
  return g.reduceMean(perRow, undefined, false);
}

/**
 * @param student [N, D] student embeddings (normalised)
 * @param teacher [N, D] teacher embeddings (normalised)
 * @param queue [Q, D] teacher embeddings of this and earlier steps (normalised; rows not yet filled are 0)
 */
export function globalLoss(g: Graph, student: Tensor, teacher: Tensor, queue: Tensor, temperature: number): Tensor {
  const q = g.transpose(queue, [1, 0]);
  return klDivergence(g, g.div(g.matmul(teacher, q), temperature), g.div(g.matmul(student, q), temperature));
}

/**
 * @param student [N, M, D] student patch features on the teacher's grid (normalised)
 * @param teacher [N, M, D] teacher patch features (normalised)
 */
export function denseLoss(g: Graph, student: Tensor, teacher: Tensor, temperature: number): Tensor {
  const similarities = (x: Tensor) => g.div(g.matmul(x, g.transpose(x, [0, 2, 1])), temperature); // [N, M, M]
  return klDivergence(g, similarities(teacher), similarities(student));
}
