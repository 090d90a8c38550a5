// Position embeddings for another patch grid: a constant matrix M [T_new, T_old] with pos_new = M @ pos_old,
// equal to torch.nn.functional.interpolate(mode='bicubic', align_corners=False, antialias=False) on the
// [1, D, rows, cols] grid, so that the gradient flows back into the stored parameter through a MatMul.

/** 'dino': scale_factor = (new + 0.1) / old (DINO / DINOv2 interpolate_pos_encoding, interpolate_offset 0.1);
 *  'size': size = new (timm's resample_abs_pos_embed, here without antialiasing). */
export type PosInterpolation = 'dino' | 'size';

export interface Grid {
  rows: number;
  cols: number;
}

const A = -0.75; // PyTorch's bicubic constant

const cubic1 = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
const cubic2 = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2

/**
 * 1-D bicubic resampling weights W [outSize, inSize] for PyTorch's align_corners=False convention with source
 * coordinate (dst + 0.5) * scale - 0.5 (not clamped for cubic) and taps clamped to the border.
 * `scale` is input/output (or 1/scale_factor when a scale factor is given).
 */
export function bicubicWeights1d(inSize: number, outSize: number, scale: number): Float64Array {
  const w = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const real = scale * (o + 0.5) - 0.5;
    const i0 = Math.floor(real);
    const t = real - i0;
    const coeffs = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let k = 0; k < 4; k++) {
      const idx = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      w[o * inSize + idx] += coeffs[k];
    }
  }
  return w;
}

/** Source-to-destination scale along one axis, and a check that PyTorch would produce `out` elements. */
function axisScale(inSize: number, out: number, mode: PosInterpolation): number {
  if (mode === 'size') return inSize / out;
  const factor = (out + 0.1) / inSize;
  const produced = Math.floor(inSize * factor);
  if (produced !== out) throw new Error(`pos-embed interpolation: scale factor ${factor} gives ${produced} not ${out}`);
  return 1 / factor;
}

/**
 * M [newRows*newCols, oldRows*oldCols] (row-major tokens), as float64. Identity when the grids are equal (DINO
 * returns the stored embedding unchanged then).
 */
export function posEmbedMatrix(from: Grid, to: Grid, mode: PosInterpolation = 'dino'): Float64Array {
  const tOld = from.rows * from.cols, tNew = to.rows * to.cols;
  const m = new Float64Array(tNew * tOld);
  if (from.rows === to.rows && from.cols === to.cols) {
    for (let i = 0; i < tOld; i++) m[i * tOld + i] = 1;
    return m;
  }
  const wy = bicubicWeights1d(from.rows, to.rows, axisScale(from.rows, to.rows, mode));
  const wx = bicubicWeights1d(from.cols, to.cols, axisScale(from.cols, to.cols, mode));
  for (let oy = 0; oy < to.rows; oy++)
    for (let ox = 0; ox < to.cols; ox++) {
      const row = (oy * to.cols + ox) * tOld;
      for (let iy = 0; iy < from.rows; iy++) {
        const a = wy[oy * from.rows + iy];
        if (a === 0) continue;
        for (let ix = 0; ix < from.cols; ix++) m[row + iy * from.cols + ix] = a * wx[ox * from.cols + ix];
      }
    }
  return m;
}
