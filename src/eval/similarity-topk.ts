// The k most cosine-similar train rows for every val row: one MatMul + TopK graph in ONNX Runtime,
// run over chunks of val rows so the [chunk, trainRows] similarity block stays bounded.
import * as ort from 'onnxruntime-node';
import { createSession, int64Initializer, node, valueInfo } from './ort-graph.js';

/** Similarities materialised per chunk, at most this many floats (256 MB). */
const MAX_BLOCK = 64 * 1024 * 1024;

export interface Neighbours {
  /** [valRows, k] similarities, largest first (ties: lower train index first). */
  similarity: Float32Array;
  /** [valRows, k] train row indices. */
  index: Int32Array;
  k: number;
}

/** `val` [m, d] and `train` [n, d] are L2-normalised float32 rows; 1 <= k <= n. */
export async function nearestNeighbours(val: Float32Array, train: Float32Array, dim: number, k: number): Promise<Neighbours> {
  const m = val.length / dim;
  const n = train.length / dim;
  const session = await createSession({
    name: 'similarity_topk',
    node: [node('Gemm', ['val', 'train'], ['sim'], { transB: 1 }), node('TopK', ['sim', 'k'], ['values', 'indices'], { axis: 1, largest: 1, sorted: 1 })],
    initializer: [int64Initializer('k', [k])],
    input: [valueInfo('val', 'float32', ['m', dim]), valueInfo('train', 'float32', [n, dim])],
    output: [valueInfo('values', 'float32', ['m', k]), valueInfo('indices', 'int64', ['m', k])],
  });
  try {
    const similarity = new Float32Array(m * k);
    const index = new Int32Array(m * k);
    const trainT = new ort.Tensor('float32', train, [n, dim]);
    const chunk = Math.max(1, Math.min(m, Math.floor(MAX_BLOCK / n)));
    for (let start = 0; start < m; start += chunk) {
      const rows = Math.min(chunk, m - start);
      const out = await session.run({ val: new ort.Tensor('float32', val.subarray(start * dim, (start + rows) * dim), [rows, dim]), train: trainT });
      similarity.set(out.values.data as Float32Array, start * k);
      const idx = out.indices.data as BigInt64Array;
      for (let i = 0; i < idx.length; i++) index[start * k + i] = Number(idx[i]);
    }
    return { similarity, index, k };
  } finally {
    await session.release();
  }
}
