// Gradient clipping over flat gradient buffers. Norms are accumulated in float64.
import type { FlatTensors } from './param-store.js';
import { kernelsHolding } from './simd.js';

/** Σ g[k]² over [start, end): a SIMD kernel where the gradients live in a training run's arena, else the JS loop. */
function sumOfSquares(g: Float32Array, start: number, end: number): number {
  const k = kernelsHolding(g);
  return k ? k.sumsq(g.byteOffset + 4 * start, end - start) : sumOfSquaresJs(g, start, end);
}

// Eight independent accumulators: one running sum is bound by the latency of each add (3x slower on 11.7M floats).
function sumOfSquaresJs(g: Float32Array, start: number, end: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  let k = start;
  for (; k + 8 <= end; k += 8) {
    const x0 = g[k], x1 = g[k + 1], x2 = g[k + 2], x3 = g[k + 3], x4 = g[k + 4], x5 = g[k + 5], x6 = g[k + 6], x7 = g[k + 7];
    s0 += x0 * x0;
    s1 += x1 * x1;
    s2 += x2 * x2;
    s3 += x3 * x3;
    s4 += x4 * x4;
    s5 += x5 * x5;
    s6 += x6 * x6;
    s7 += x7 * x7;
  }
  for (; k < end; k++) s0 += g[k] * g[k];
  return s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
}

function scale(g: Float32Array, start: number, end: number, c: number): void {
  for (let k = start; k < end; k++) g[k] *= c;
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm): scales all gradients by maxNorm / (norm + 1e-6) when that is below
 * 1 and returns the pre-clip global L2 norm.
 * A non-finite norm is returned and nothing is scaled: the caller's NaN guard decides what to do with the step.
 */
export function clipGlobalNorm(grads: Float32Array, maxNorm: number): number {
  const { norm, coef } = globalNormClip(grads, maxNorm);
  if (coef < 1) scale(grads, 0, grads.length, Math.fround(coef)); // float32 factor, as torch's clip_coef tensor
  return norm;
}

/**
 * clip_grad_norm_'s norm and scale factor without touching the gradients: the trainer passes `coef` to
 * optimizer.step, which scales each gradient as it reads it (one pass over the buffer fewer). coef is 1 when no
 * clipping is needed or the norm is not finite.
 */
export function globalNormClip(grads: Float32Array, maxNorm: number): { norm: number; coef: number } {
  const norm = Math.sqrt(sumOfSquares(grads, 0, grads.length));
  const coef = maxNorm / (norm + 1e-6);
  return { norm, coef: Number.isFinite(norm) && coef < 1 ? coef : 1 };
}

/**
 * DINO's clip_gradients: each tensor's gradient norm is clipped to maxNorm on its own. Returns each tensor's pre-clip
 * norm in `norms` (pass a preallocated array to avoid allocating per step).
 */
export function clipPerTensor(
  grads: FlatTensors,
  maxNorm: number,
  norms: Float64Array = new Float64Array(grads.layout.names.length),
): Float64Array {
  const { offsets, sizes } = grads.layout;
  const g = grads.flat;
  for (let i = 0; i < offsets.length; i++) {
    const start = offsets[i];
    const end = start + sizes[i];
    const norm = Math.sqrt(sumOfSquares(g, start, end));
    norms[i] = norm;
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) scale(g, start, end, coef);
  }
  return norms;
}
