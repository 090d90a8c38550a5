// kNN and linear-probe accuracy of frozen embeddings: the in-process API (also used by pretrain's periodic eval).
import { knnClassify } from './knn.js';
import { linearProbe, type LinearProbeOptions, type LinearProbeResult } from './linear-probe.js';
import { matrix, type Matrix } from './matrix.js';

export interface EvaluateOptions {
  /** Neighbours (default 20; capped at the train size). */
  k?: number;
  /** Vote temperature (default 0.07). */
  T?: number;
  /** Run the linear probe (default true). It costs far more than kNN on large sets. */
  linear?: boolean | LinearProbeOptions;
  numClasses?: number;
}

export interface EvaluationResult {
  /** Accuracies are fractions in [0, 1]. */
  knnTop1: number;
  /** Only with 5 or more classes. */
  knnTop5?: number;
  /** Absent when the linear probe was switched off. */
  linearTop1?: number;
  linearTop5?: number;
  k: number;
  T: number;
  numClasses: number;
  trainSize: number;
  valSize: number;
  linear?: LinearProbeResult;
}

export type EmbeddingInput = Matrix | { data: Float32Array | Float64Array; dim: number };

function asMatrix(e: EmbeddingInput): Matrix {
  return 'cols' in e ? e : matrix(e.data, e.dim);
}

export async function evaluateEmbeddings(
  trainEmb: EmbeddingInput,
  trainLabels: ArrayLike<number>,
  valEmb: EmbeddingInput,
  valLabels: ArrayLike<number>,
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const train = asMatrix(trainEmb);
  const val = asMatrix(valEmb);
  const k = opts.k ?? 20;
  const T = opts.T ?? 0.07;
  let numClasses = opts.numClasses ?? 0;
  if (opts.numClasses === undefined) for (const l of [...Array.from(trainLabels), ...Array.from(valLabels)]) numClasses = Math.max(numClasses, l + 1);
  const knn = await knnClassify(train, trainLabels, val, valLabels, { k, temperature: T, numClasses });
  const result: EvaluationResult = {
    knnTop1: knn.top1,
    knnTop5: numClasses >= 5 ? knn.top5 : undefined,
    k: knn.k,
    T,
    numClasses,
    trainSize: train.rows,
    valSize: val.rows,
  };
  if (opts.linear !== false) {
    const lin = await linearProbe(train, trainLabels, val, valLabels, { ...(typeof opts.linear === 'object' ? opts.linear : {}), numClasses });
    result.linearTop1 = lin.top1;
    result.linearTop5 = lin.top5;
    result.linear = lin;
  }
  return result;
}
