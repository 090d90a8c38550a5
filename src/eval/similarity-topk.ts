// The k most cosine-similar train rows for every val row: one Gemm + TopK graph in ONNX Runtime, run over chunks of
// val rows so the [chunk, trainRows] similarity block stays bounded.
import * as ort from 'onnxruntime-node';
import { defaultThreads } from '../engine/providers.js';
import { createSession } from '../engine/session.js';
import { Graph, toBytes } from '../graph/index.js';

/** Similarities materialised per chunk, at most this many floats (256 MB). */
const MAX_BLOCK = 64 * 1024 * 1024;

export interface Neighbours {
  /** [valRows, k] similarities, largest first (ties: lower train index first). */
  similarity: Float32Array;
  /** [valRows, k] train row indices. */
  index: Int32Array;
  k: number;
}

function similarityTopK(n: number, dim: number, k: number): Uint8Array {
  const g = new Graph({ name: 'similarity_topk' });
  const sim = g.gemm(g.input('val', ['m', dim]), g.input('train', [n, dim]), null, { transB: true });
  const { values, indices } = g.topK(sim, k, 1, true);
  return toBytes(g, { values, indices }).bytes;
}

/** `val` [m, d] and `train` [n, d] are L2-normalised float32 rows; 1 <= k <= n. */
export async function nearestNeighbours(val: Float32Array, train: Float32Array, dim: number, k: number): Promise<Neighbours> {
  const m = val.length / dim;
  const n = train.length / dim;
  const session = await createSession(similarityTopK(n, dim, k), { providers: ['cpu'], threads: defaultThreads() });
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
