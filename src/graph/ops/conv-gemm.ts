// 2-D convolution as image columns + one Gemm (im2col), for the shapes where ONNX Runtime's CPU Conv is slow:
// small feature maps (ResNet's 8x8 and smaller stages at 64 px, where its per-image GEMM has only H·W columns)
// and every weight gradient (its Conv-with-a-gradient-kernel form runs at a fraction of GEMM speed). Here the whole
// batch is one GEMM with N·H·W rows. Training graphs only (GraphOptions.convGemm); measured in docs/benchmarks.md.

import type { Graph } from '../core.js';
import type { Tensor } from '../tensor.js';

export interface Conv2dGeometry {
  k: readonly number[];
  s: readonly number[];
  /** [top, left, bottom, right] */
  p: readonly number[];
  d: readonly number[];
}

/** Channels below this make NHWC columns too fine-grained (the RGB stem, ViT patch embedding): Conv stays. */
const MIN_CHANNELS = 16;
/**
 * Output maps up to this many positions run the forward (and so the input gradient) as one GEMM: stride-1 convs up
 * to 8x8 (their input gradient is again a GEMM, over the output gradient's columns), strided ones up to 4x4 (their
 * input gradient sums the columns back with Gather's selection-matrix rule, which grows with the map).
 */
const MAX_FORWARD_POSITIONS = { stride1: 64, strided: 16 };

export const outSize2d = (h: number, w: number, geo: Conv2dGeometry): [number, number] => [
  Math.floor((h + geo.p[0] + geo.p[2] - geo.d[0] * (geo.k[0] - 1) - 1) / geo.s[0]) + 1,
  Math.floor((w + geo.p[1] + geo.p[3] - geo.d[1] * (geo.k[1] - 1) - 1) / geo.s[1]) + 1,
];

/** Whether the weight gradient of this conv runs as one GEMM over image columns. */
export const weightGradAsGemm = (x: Tensor, group: number): boolean => x.rank === 4 && group === 1 && (x.shape[1] as number) >= MIN_CHANNELS;

/** Whether the conv itself runs as image columns + GEMM (see convAsGemm for its gradients). */
export function forwardAsGemm(x: Tensor, group: number, geo: Conv2dGeometry): boolean {
  if (!weightGradAsGemm(x, group)) return false;
  const [ho, wo] = outSize2d(x.shape[2] as number, x.shape[3] as number, geo);
  return ho * wo <= (isStride1(geo) ? MAX_FORWARD_POSITIONS.stride1 : MAX_FORWARD_POSITIONS.strided);
}

/** Stride 1 with pads no wider than the dilated kernel: the input gradient is a conv of the output gradient. */
const isStride1 = (geo: Conv2dGeometry): boolean =>
  geo.s.every((v) => v === 1) && geo.p.every((v, i) => v <= geo.d[i % 2] * (geo.k[i % 2] - 1));

/** Flat positions in the padded [Hp·Wp] map read by each (output position, kernel tap), in imageColumns order. */
function windowIndices(hp: number, wp: number, ho: number, wo: number, geo: Conv2dGeometry): number[] {
  const idx: number[] = [];
  for (let i = 0; i < ho; i++)
    for (let j = 0; j < wo; j++)
      for (let a = 0; a < geo.k[0]; a++)
        for (let b = 0; b < geo.k[1]; b++) idx.push((i * geo.s[0] + a * geo.d[0]) * wp + j * geo.s[1] + b * geo.d[1]);
  return idx;
}

/**
 * x [N, C, H, W] -> [N·Ho·Wo, kh·kw·C]: row (n, i, j) holds the receptive field of output position (i, j), ordered
 * (kernel row, kernel column, channel). Channels-last, so one Gather copies whole channel vectors (a third faster
 * than strided Slices + Concat).
 */
export function imageColumns(g: Graph, x: Tensor, geo: Conv2dGeometry): Tensor {
  const [, C, H, W] = x.shape as number[];
  const [ho, wo] = outSize2d(H, W, geo);
  const nhwc = g.transpose(x, [0, 2, 3, 1]);
  const kk = geo.k[0] * geo.k[1];
  if (kk === 1 && geo.s.every((v) => v === 1) && geo.p.every((v) => v === 0)) return g.reshape(nhwc, [-1, C]);
  const hp = H + geo.p[0] + geo.p[2], wp = W + geo.p[1] + geo.p[3];
  const padded = g.reshape(g.pad(nhwc, [0, geo.p[0], geo.p[1], 0, 0, geo.p[2], geo.p[3], 0]), [x.shape[0], hp * wp, C]);
  return g.reshape(g.gather(padded, windowIndices(hp, wp, ho, wo, geo), 1), [-1, kk * C]);
}

/** w [O, C, kh, kw] -> [O, kh·kw·C], the column order of imageColumns. */
export function weightRows(g: Graph, w: Tensor): Tensor {
  const [O, C, kh, kw] = w.shape as number[];
  if (kh * kw === 1) return g.reshape(w, [O, C]);
  return g.reshape(g.transpose(w, [0, 2, 3, 1]), [O, kh * kw * C]);
}

/** [O, kh·kw·C] -> [O, C, kh, kw] (inverse of weightRows). */
function rowsToWeight(g: Graph, rows: Tensor, C: number, k: readonly number[]): Tensor {
  const O = rows.shape[0] as number;
  if (k[0] * k[1] === 1) return g.reshape(rows, [O, C, 1, 1]);
  return g.transpose(g.reshape(rows, [O, k[0], k[1], C]), [0, 3, 1, 2]);
}

/** w [O, C, kh, kw] -> [C, kh·kw·O]: the rows of the stride-1 input gradient's conv (kernel flipped, channels swapped). */
function flippedWeightRows(g: Graph, w: Tensor): Tensor {
  const [O, C, kh, kw] = w.shape as number[];
  const t = g.transpose(w, [1, 2, 3, 0]); // [C, kh, kw, O]
  if (kh * kw === 1) return g.reshape(t, [C, O]);
  const reversed = Array.from({ length: kh * kw }, (_, i) => kh * kw - 1 - i); // reversing the window flips both axes
  return g.reshape(g.gather(g.reshape(t, [C, kh * kw, O]), reversed, 1), [C, kh * kw * O]);
}

/** One Gemm of columns [N·Ho·Wo, kkC] with rows [O, kkC], back to channels-first [N, O, Ho, Wo]. */
function gemmToNchw(g: Graph, cols: Tensor, rows: Tensor, n: Tensor['shape'][number], ho: number, wo: number): Tensor {
  const y = g.gemm(cols, rows, null, { transB: true });
  return g.transpose(g.reshape(y, [n, ho, wo, rows.shape[0]]), [0, 3, 1, 2]);
}

/**
 * y [N, O, Ho, Wo] as one Gemm over the image columns. Stride 1: a composite whose gradients are two more GEMMs
 * (gw from the forward's own columns, gx over the output gradient's columns with the flipped kernel); otherwise
 * plain ops for autodiff.
 */
export function convAsGemm(g: Graph, x: Tensor, w: Tensor, geo: Conv2dGeometry): Tensor {
  const [ho, wo] = outSize2d(x.shape[2] as number, x.shape[3] as number, geo);
  if (!isStride1(geo)) return gemmToNchw(g, imageColumns(g, x, geo), weightRows(g, w), x.shape[0], ho, wo);
  const [, C, H, W] = x.shape as number[];
  let cols!: Tensor;
  return g.customGrad(
    [x, w],
    () => {
      cols = imageColumns(g, x, geo);
      return gemmToNchw(g, cols, weightRows(g, w), x.shape[0], ho, wo);
    },
    (gy, need) => {
      const gw = need[1] && weightGradFromColumns(g, gy, cols, C, geo.k);
      let gx: Tensor | null = null;
      if (need[0]) {
        const full = [0, 1].map((i) => geo.d[i] * (geo.k[i] - 1));
        const back: Conv2dGeometry = { k: geo.k, s: [1, 1], p: geo.p.map((v, i) => full[i % 2] - v), d: geo.d };
        gx = gemmToNchw(g, imageColumns(g, gy, back), flippedWeightRows(g, w), x.shape[0], H, W);
      }
      return [gx, gw];
    },
  );
}

/** gw [O, C, kh, kw] = gyᵀ [O, N·Ho·Wo] x columns [N·Ho·Wo, kkC]. */
function weightGradFromColumns(g: Graph, gy: Tensor, cols: Tensor, C: number, k: readonly number[]): Tensor {
  const rowsGy = g.reshape(g.transpose(gy, [0, 2, 3, 1]), [-1, gy.shape[1]]);
  return rowsToWeight(g, g.gemm(rowsGy, cols, null, { transA: true }), C, k);
}

/** The weight gradient of a Conv node as one GEMM over x's image columns. */
export function weightGradAsGemm2d(g: Graph, gy: Tensor, x: Tensor, geo: Conv2dGeometry): Tensor {
  return weightGradFromColumns(g, gy, imageColumns(g, x, geo), x.shape[1] as number, geo.k);
}
