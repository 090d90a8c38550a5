// Multinomial logistic regression: logits = X W^T + b, loss = mean cross-entropy + (λ/2)·||W||²
// (the bias is not decayed), fitted with L-BFGS. The data term and its gradient (by the graph's autodiff) run as
// one float64 graph in ONNX Runtime (two GEMMs dominate); the decay term is added in JS.
import * as ort from 'onnxruntime-node';
import { defaultThreads } from '../engine/providers.js';
import { createSession } from '../engine/session.js';
import { Graph, toBytes } from '../graph/index.js';
import { minimizeLbfgs, type LbfgsOptions, type Objective } from './lbfgs.js';
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

/** The data of one fit, loaded into ONNX Runtime once; `objective(λ)` gives the function L-BFGS minimises. */
export interface SoftmaxProblem {
  objective(weightDecay: number): Objective;
  release(): Promise<void>;
}

export async function softmaxProblem(X: Float64Array, labels: ArrayLike<number>, dim: number, classes: number): Promise<SoftmaxProblem> {
  const n = labels.length;
  if (X.length !== n * dim) throw new Error(`softmax regression: X has ${X.length} values, expected ${n}x${dim}`);
  const g = new Graph({ name: 'softmax_regression', dtype: 'double' });
  const W = g.param('W', [classes, dim]);
  const b = g.param('b', [classes]);
  const logp = g.logSoftmax(g.gemm(g.input('X', [n, dim]), W, b, { transB: true }), 1);
  const loglik = g.reduceSum(g.mul(g.input('Y', [n, classes]), logp), undefined, false);
  const [gW, gb] = g.grad(g.neg(loglik), [W, b]);
  const session = await createSession(toBytes(g, { loglik, gW, gb }).bytes, { providers: ['cpu'], threads: defaultThreads() });
  const oneHot = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) oneHot[i * classes + labels[i]] = 1;
  const xT = new ort.Tensor('float64', X, [n, dim]);
  const yT = new ort.Tensor('float64', oneHot, [n, classes]);
  const wLen = classes * dim;

  return {
    objective: (weightDecay) => async (params, grad) => {
      const out = await session.run({
        X: xT,
        Y: yT,
        W: new ort.Tensor('float64', params.subarray(0, wLen), [classes, dim]),
        b: new ort.Tensor('float64', params.subarray(wLen), [classes]),
      });
      const gW = out.gW.data as Float64Array;
      const gb = out.gb.data as Float64Array;
      let sq = 0;
      for (let j = 0; j < wLen; j++) {
        sq += params[j] * params[j];
        grad[j] = gW[j] / n + weightDecay * params[j];
      }
      for (let c = 0; c < classes; c++) grad[wLen + c] = gb[c] / n;
      return -(out.loglik.data as Float64Array)[0] / n + 0.5 * weightDecay * sq;
    },
    release: () => session.release(),
  };
}

export async function fitSoftmaxRegression(
  problem: SoftmaxProblem,
  dim: number,
  classes: number,
  weightDecay: number,
  opts: LbfgsOptions & { init?: Float64Array } = {},
): Promise<FitResult> {
  const x0 = opts.init ?? new Float64Array(classes * dim + classes);
  const r = await minimizeLbfgs(problem.objective(weightDecay), x0, opts);
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
