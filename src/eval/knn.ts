// Weighted k-nearest-neighbour classification on cosine similarity, as in DINO's eval_knn.py
// (knn_classifier): features are L2-normalised, each val sample takes its k most similar train
// samples, a neighbour votes for its class with weight exp(similarity / T), and classes are
// ranked by their summed votes. Top-5 counts a hit within the first min(5, k) ranked classes.
// Similarities are float32 (as DINO on GPU); votes and ranking are float64.
import { l2NormalizeRows, type Matrix } from './matrix.js';
import { nearestNeighbours } from './similarity-topk.js';

export interface KnnOptions {
  k: number;
  temperature: number;
  /** Number of classes (labels are 0..numClasses-1); default: 1 + the largest label seen. */
  numClasses?: number;
}

export interface KnnResult {
  top1: number;
  /** Fraction of val samples whose label is among the first min(5, k) ranked classes. */
  top5: number;
  /** Ranked class indices per val sample (up to 5). */
  predictions: number[][];
  /** Summed vote per class and val sample, [valRows, numClasses] (scaled by exp(-maxSim/T) per row). */
  votes: Float64Array;
  k: number;
}

/** Indices of the k largest values, largest first; ties broken by the lower index. */
export function topK(values: Float64Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (idx.length === k && v <= values[idx[k - 1]]) continue;
    let pos = idx.length === k ? k - 1 : idx.length;
    if (idx.length < k) idx.push(i);
    while (pos > 0 && values[idx[pos - 1]] < v) {
      idx[pos] = idx[pos - 1];
      pos--;
    }
    idx[pos] = i;
  }
  return idx;
}

export async function knnClassify(
  train: Matrix,
  trainLabels: ArrayLike<number>,
  val: Matrix,
  valLabels: ArrayLike<number>,
  opts: KnnOptions,
): Promise<KnnResult> {
  if (train.cols !== val.cols) throw new Error(`knn: train has ${train.cols} features, val ${val.cols}`);
  if (trainLabels.length !== train.rows || valLabels.length !== val.rows) throw new Error('knn: label count does not match rows');
  if (train.rows === 0 || val.rows === 0) throw new Error('knn: empty train or val set');
  if (!(opts.temperature > 0)) throw new Error(`knn: temperature must be positive, got ${opts.temperature}`);
  const k = Math.min(Math.max(1, Math.floor(opts.k)), train.rows);
  let numClasses = opts.numClasses ?? 0;
  if (opts.numClasses === undefined) {
    for (let i = 0; i < trainLabels.length; i++) numClasses = Math.max(numClasses, trainLabels[i] + 1);
    for (let i = 0; i < valLabels.length; i++) numClasses = Math.max(numClasses, valLabels[i] + 1);
  }
  const tr = l2NormalizeRows(train, 'float32').data;
  const va = l2NormalizeRows(val, 'float32').data;
  const nn = await nearestNeighbours(va, tr, train.cols, k);
  const votes = new Float64Array(val.rows * numClasses);
  const predictions: number[][] = [];
  const topN = Math.min(5, k);
  let hits1 = 0;
  let hits5 = 0;
  for (let v = 0; v < val.rows; v++) {
    const row = votes.subarray(v * numClasses, (v + 1) * numClasses);
    // Shifting every similarity by the largest one rescales all votes equally: same ranking, no overflow.
    const maxSim = nn.similarity[v * k];
    for (let j = 0; j < k; j++) {
      row[trainLabels[nn.index[v * k + j]]] += Math.exp((nn.similarity[v * k + j] - maxSim) / opts.temperature);
    }
    const ranked = topK(row, Math.min(5, numClasses));
    predictions.push(ranked);
    if (ranked[0] === valLabels[v]) hits1++;
    if (ranked.slice(0, topN).includes(valLabels[v])) hits5++;
  }
  return { top1: hits1 / val.rows, top5: hits5 / val.rows, predictions, votes, k };
}
