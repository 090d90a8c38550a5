// Position embeddings moved to another patch grid outside any graph (an export for one image size, weights trained
// at another size): the grid part goes through the forward's own matrix (pos-embed.ts), so a model holding the
// result computes at the new grid exactly what the stored embedding computes there.
import { posEmbedMatrix, type Grid, type PosInterpolation } from './pos-embed.js';

/** The square grid of `tokens` position tokens, or undefined when `tokens` is not a square. */
export function squareGrid(tokens: number): Grid | undefined {
  const side = Math.round(Math.sqrt(tokens));
  return side > 0 && side * side === tokens ? { rows: side, cols: side } : undefined;
}

/**
 * pos_embed [1, prefix + from.rows·from.cols, D] -> [1, prefix + to.rows·to.cols, D]: the first `prefix` tokens
 * (the class token's position) unchanged, the grid resampled (float64 sums, float32 result).
 */
export function resamplePosEmbed(
  values: Float32Array,
  dim: number,
  prefix: number,
  from: Grid,
  to: Grid,
  mode: PosInterpolation,
): Float32Array {
  const tOld = from.rows * from.cols, tNew = to.rows * to.cols;
  if (values.length !== (prefix + tOld) * dim) throw new Error(`pos_embed holds ${values.length} values, expected ${(prefix + tOld) * dim}`);
  const m = posEmbedMatrix(from, to, mode);
  const out = new Float32Array((prefix + tNew) * dim);
  out.set(values.subarray(0, prefix * dim));
  const acc = new Float64Array(dim);
  for (let t = 0; t < tNew; t++) {
    acc.fill(0);
    for (let s = 0; s < tOld; s++) {
      const w = m[t * tOld + s];
      if (w === 0) continue;
      const base = (prefix + s) * dim;
      for (let d = 0; d < dim; d++) acc[d] += w * values[base + d];
    }
    out.set(acc, (prefix + t) * dim);
  }
  return out;
}
