// Linear probe on frozen features: L2-normalise, standardise with train statistics, fit
// multinomial logistic regression, choose the weight decay on a stratified held-out part of
// train, refit on all of train with it and report val accuracy.
import { Rng } from '../util/rng.js';
import { l2NormalizeRows, type Matrix } from './matrix.js';
import { fitSoftmaxRegression, predictTop, softmaxProblem } from './softmax-regression.js';

export const DEFAULT_WEIGHT_DECAYS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5];

export interface LinearProbeOptions {
  /** Candidates, tried strongest first (each fit warm-starts the next). */
  weightDecays?: number[];
  /** Fraction of each train class held out to choose the weight decay. */
  heldOutFraction?: number;
  maxIterations?: number;
  seed?: number;
  numClasses?: number;
}

export interface LinearProbeResult {
  top1: number;
  top5?: number;
  weightDecay: number;
  /** Held-out accuracy per candidate weight decay (empty when train was too small to split). */
  selection: { weightDecay: number; heldOutTop1: number; iterations: number }[];
  iterations: number;
}

/** Standardised copies of train and val with mean/std taken from train. */
function standardise(train: Matrix, val: Matrix): [Float64Array, Float64Array] {
  const d = train.cols;
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (let i = 0; i < train.rows; i++) for (let j = 0; j < d; j++) mean[j] += train.data[i * d + j] / train.rows;
  for (let i = 0; i < train.rows; i++) for (let j = 0; j < d; j++) sd[j] += (train.data[i * d + j] - mean[j]) ** 2 / train.rows;
  for (let j = 0; j < d; j++) sd[j] = Math.max(Math.sqrt(sd[j]), 1e-6);
  const apply = (m: Matrix) => {
    const out = new Float64Array(m.rows * d);
    for (let i = 0; i < m.rows; i++) for (let j = 0; j < d; j++) out[i * d + j] = (m.data[i * d + j] - mean[j]) / sd[j];
    return out;
  };
  return [apply(train), apply(val)];
}

/** Row indices [fit, heldOut]: about `fraction` of each class held out, at least one row of each class kept for fitting. */
function stratifiedSplit(labels: ArrayLike<number>, fraction: number, rng: Rng): [number[], number[]] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const fit: number[] = [];
  const held: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(c)!;
    rng.shuffle(rows);
    const h = rows.length >= 2 ? Math.max(1, Math.round(rows.length * fraction)) : 0;
    held.push(...rows.slice(0, Math.min(h, rows.length - 1)));
    fit.push(...rows.slice(Math.min(h, rows.length - 1)));
  }
  return [fit.sort((a, b) => a - b), held.sort((a, b) => a - b)];
}

function takeRows(X: Float64Array, d: number, rows: number[]): Float64Array {
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(X.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

function accuracy(pred: number[][], labels: ArrayLike<number>, top: number): number {
  let hits = 0;
  pred.forEach((p, i) => {
    if (p.slice(0, top).includes(labels[i])) hits++;
  });
  return pred.length === 0 ? 0 : hits / pred.length;
}

export async function linearProbe(
  train: Matrix,
  trainLabels: ArrayLike<number>,
  val: Matrix,
  valLabels: ArrayLike<number>,
  opts: LinearProbeOptions = {},
): Promise<LinearProbeResult> {
  const grid = opts.weightDecays ?? DEFAULT_WEIGHT_DECAYS;
  // Accuracy needs far less precision than the optimum itself: stop early.
  const lbfgs = { maxIterations: opts.maxIterations ?? 200, gradTolerance: 1e-5, relTolerance: 1e-7 };
  let classes = opts.numClasses ?? 0;
  if (opts.numClasses === undefined) for (const l of [...Array.from(trainLabels), ...Array.from(valLabels)]) classes = Math.max(classes, l + 1);
  const d = train.cols;
  const [Xtr, Xva] = standardise(l2NormalizeRows(train, 'float64'), l2NormalizeRows(val, 'float64'));

  const [fitRows, heldRows] = stratifiedSplit(trainLabels, opts.heldOutFraction ?? 0.2, new Rng(opts.seed ?? 0));
  const selection: LinearProbeResult['selection'] = [];
  let best: { weightDecay: number; acc: number; weights?: Float64Array } = { weightDecay: grid[Math.floor(grid.length / 2)], acc: -1 };
  let init: Float64Array | undefined;
  if (heldRows.length > 0 && grid.length > 1) {
    const Xfit = takeRows(Xtr, d, fitRows);
    const yfit = fitRows.map((r) => trainLabels[r]);
    const Xheld = takeRows(Xtr, d, heldRows);
    const yheld = heldRows.map((r) => trainLabels[r]);
    const problem = await softmaxProblem(Xfit, yfit, d, classes);
    try {
      for (const wd of grid) {
        const r = await fitSoftmaxRegression(problem, d, classes, wd, { ...lbfgs, init });
        init = r.model.weights;
        const acc = accuracy(predictTop(r.model, Xheld, 1), yheld, 1);
        selection.push({ weightDecay: wd, heldOutTop1: acc, iterations: r.iterations });
        if (acc > best.acc) best = { weightDecay: wd, acc, weights: r.model.weights }; // ties keep the stronger regularisation
      }
    } finally {
      await problem.release();
    }
  }
  const problem = await softmaxProblem(Xtr, trainLabels, d, classes);
  // Warm start from the held-out fit with the chosen decay: same optimum, fewer iterations.
  const final = await fitSoftmaxRegression(problem, d, classes, best.weightDecay, { ...lbfgs, init: best.weights }).finally(() => problem.release());
  const pred = predictTop(final.model, Xva, Math.min(5, classes));
  return {
    top1: accuracy(pred, valLabels, 1),
    top5: classes >= 5 ? accuracy(pred, valLabels, 5) : undefined,
    weightDecay: best.weightDecay,
    selection,
    iterations: final.iterations,
  };
}
