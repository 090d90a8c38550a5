// DINO's loss on class tokens (dino/main_dino.py DINOLoss; dinov2 DINOLoss): cross-entropy between the teacher's
// centred, sharpened softmax over K prototypes and the student's softmax at temperature τs, over every
// (teacher global view, student view) pair except a view with itself, averaged over pairs and over the batch.
import type { Graph, Tensor } from '../../graph/index.js';

export interface DinoLossParts {
  /** the whole loss: global + local */
  loss: Tensor;
  /** the global-global pairs' share of the loss */
  global: Tensor;
  /** the global-local pairs' share */
  local: Tensor | null;
}

/**
 * @param studentGlobal student logits of the global views [G·N, K], view-major (rows v·N..v·N+N-1 are view v)
 * @param studentLocal student logits of the local views [L·N, K], or null without local crops
 * @param teacherProbs the teacher's centred, sharpened probabilities of the global views [G·N, K], view-major
 */
export function dinoLoss(
  g: Graph,
  studentGlobal: Tensor,
  studentLocal: Tensor | null,
  teacherProbs: Tensor,
  nGlobal: number,
  nLocal: number,
  studentTemp: number,
): DinoLossParts {
  const K = studentGlobal.shape[1];
  const q = g.reshape(g.stopGradient(teacherProbs), [nGlobal, -1]); // [G, N·K]
  const logp = (logits: Tensor, views: number) => g.reshape(g.logSoftmax(g.div(logits, studentTemp), -1), [views, -1]);
  // cross[i, v] = −Σ_{n,k} q[i,n,k]·log p[v,n,k] (the batch sum; divided by N below)
  const cross = (lp: Tensor) => g.neg(g.matmul(q, g.transpose(lp, [1, 0])));
  const batch = g.dimScalar(studentGlobal.shape[0]); // G·N as a float scalar
  const perImage = g.div(nGlobal, batch); // 1/N
  const terms = nGlobal * (nGlobal - 1) + nGlobal * nLocal;
  if (terms === 0) throw new Error('DINO loss needs at least two views');

  const gg = cross(logp(studentGlobal, nGlobal)); // [G, G]
  const offDiagonal = g.const(offDiagonalMask(nGlobal), [nGlobal, nGlobal]);
  const global = g.mul(g.reduceSum(g.mul(gg, offDiagonal), undefined, false), g.mul(perImage, 1 / terms));
  if (!studentLocal || nLocal === 0) return { loss: global, global, local: null };
  void K;
  const gl = cross(logp(studentLocal, nLocal)); // [G, L]
  const local = g.mul(g.reduceSum(gl, undefined, false), g.mul(perImage, 1 / terms));
  return { loss: g.add(global, local), global, local };
}

function offDiagonalMask(n: number): Float32Array {
  const m = new Float32Array(n * n).fill(1);
  for (let i = 0; i < n; i++) m[i * n + i] = 0;
  return m;
}

/** The teacher's targets: softmax((t − center) / τt) over prototypes [G·N, K], and the batch mean of t [1, K]. */
export function dinoTeacherTargets(g: Graph, teacherLogits: Tensor, center: Tensor, temp: Tensor): { probs: Tensor; batchCenter: Tensor } {
  const probs = g.softmax(g.div(g.sub(teacherLogits, center), temp), -1);
  const batchCenter = g.reduceMean(teacherLogits, [0], true);
  return { probs, batchCenter };
}
