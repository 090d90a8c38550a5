// Resizing as matrices: a separable resize of [.., h, w] to [.., H, W] is A_h · x · A_wᵀ, two MatMuls with constant
// [H, h] and [W, w] matrices, which the graph differentiates like any MatMul. Used for the student's feature map
// (to the teacher's patch grid) and for the images the teacher takes (to its input size).
import { resampleWeights } from '../../data/resize.js';
import type { Graph, Tensor } from '../../graph/index.js';

/**
 * [outSize, inSize] weights of bilinear interpolation as torch's F.interpolate(mode='bilinear', align_corners=False)
 * without antialiasing: sample i reads position (i + 0.5)·in/out − 0.5, clamped at 0, from its two neighbours.
 */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const src = Math.max((i + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = src - i0;
    m[i * inSize + i0] += 1 - l;
    m[i * inSize + i1] += l;
  }
  return m;
}

/** [outSize, inSize] weights of the antialiased bilinear (triangle) filter the training views are resized with. */
export function antialiasMatrix(inSize: number, outSize: number): Float32Array {
  const w = resampleWeights(inSize, outSize);
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) for (let k = 0; k < w.count[i]; k++) m[i * inSize + w.start[i] + k] = w.weights[i * w.taps + k];
  return m;
}

/** x [..., h, w] resized to [..., H, W] by the given [H, h] and [W, w] matrices. */
export function resizeLastTwo(g: Graph, x: Tensor, rows: { m: Float32Array; from: number; to: number }, cols: { m: Float32Array; from: number; to: number }): Tensor {
  const r = x.rank;
  const swap = [...Array(r - 2).keys(), r - 1, r - 2];
  const transposed = (m: Float32Array, out: number, inp: number) => {
    const t = new Float32Array(m.length);
    for (let i = 0; i < out; i++) for (let j = 0; j < inp; j++) t[j * out + i] = m[i * inp + j];
    return g.const(t, [inp, out]);
  };
  const alongW = cols.from === cols.to ? x : g.matmul(x, transposed(cols.m, cols.to, cols.from)); // [..., h, W]
  if (rows.from === rows.to) return alongW;
  return g.transpose(g.matmul(g.transpose(alongW, swap), transposed(rows.m, rows.to, rows.from)), swap); // [..., H, W]
}
