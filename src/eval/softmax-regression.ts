// Multinomial logistic regression: logits = X W^T + b, loss = mean cross-entropy + (λ/2)·||W||²
// (the bias is not decayed), fitted with L-BFGS. X is row-major float64 [n, d].
import { minimizeLbfgs, type LbfgsOptions } from './lbfgs.js';
import { dot } from './matrix.js';

export interface SoftmaxModel {
  /** [classes, dim] row-major, then [classes] biases. */
  weights: Float64Array;
  classes: number;
  dim: number;
}

export interface FitResult {
  model: SoftmaxModel;
  loss: number;
  iterations: number;
  converged: boolean;
}

/** The objective and its gradient in packed parameters [W (classes*dim), b (classes)]. */
export function softmaxObjective(X: Float64Array, labels: ArrayLike<number>, dim: number, classes: number, weightDecay: number) {
  const n = labels.length;
  const logits = new Float64Array(classes);
  const bOff = classes * dim;
  return (params: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const xo = i * dim;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        logits[c] = dot(X, xo, params, c * dim, dim) + params[bOff + c];
        if (logits[c] > max) max = logits[c];
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        logits[c] = Math.exp(logits[c] - max);
        sum += logits[c];
      }
      const y = labels[i];
      loss += Math.log(sum) - Math.log(logits[y]);
      for (let c = 0; c < classes; c++) {
        const r = (logits[c] / sum - (c === y ? 1 : 0)) / n; // d loss / d logit
        if (r === 0) continue;
        const go = c * dim;
        for (let j = 0; j < dim; j++) grad[go + j] += r * X[xo + j];
        grad[bOff + c] += r;
      }
    }
    loss /= n;
    let sq = 0;
    for (let j = 0; j < bOff; j++) {
      sq += params[j] * params[j];
      grad[j] += weightDecay * params[j];
    }
    return loss + 0.5 * weightDecay * sq;
  };
}

export function fitSoftmaxRegression(
  X: Float64Array,
  labels: ArrayLike<number>,
  dim: number,
  classes: number,
  weightDecay: number,
  opts: LbfgsOptions & { init?: Float64Array } = {},
): FitResult {
  const x0 = opts.init ?? new Float64Array(classes * dim + classes);
  const r = minimizeLbfgs(softmaxObjective(X, labels, dim, classes, weightDecay), x0, opts);
  return { model: { weights: r.x, classes, dim }, loss: r.f, iterations: r.iterations, converged: r.converged };
}

/** Ranked class indices (best first, up to `top`) for each row of X. */
export function predictTop(model: SoftmaxModel, X: Float64Array, top = 1): number[][] {
  const { classes, dim, weights } = model;
  const n = X.length / dim;
  const out: number[][] = [];
  const scores = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) scores[c] = dot(X, i * dim, weights, c * dim, dim) + weights[classes * dim + c];
    const order = Array.from({ length: classes }, (_, c) => c).sort((a, b) => scores[b] - scores[a] || a - b);
    out.push(order.slice(0, top));
  }
  return out;
}
