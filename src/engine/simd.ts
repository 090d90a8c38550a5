// Optimizer loops (AdamW, SGD/LARS, EMA, the gradient norm) as WebAssembly SIMD (f32x4) kernels
// (util/wasm-simd.ts), run in place on a training run's flat buffers, which live in the kernels' own memory (SimdArena).
// AdamW runs ~6x and the EMA ~3x faster than the JS loops (docs/benchmarks.md). Arithmetic is float32, like torch's.
import { F32, F64, I32, instantiateKernels, op, simdEnabled, v, V128, type Kernel, type WasmMemory } from '../util/wasm-simd.js';

/** Moments below this are flushed to zero (float32 denormals make every later load of them slow on x86). */
export const FLUSH = 1e-30;

// adamw(p, m, v, g, count, keep, stepSize, invSqrtBc2, b1, a1, b2, a2, eps, gscale) with a1 = 1−b1, a2 = 1−b2:
//   g = gscale·g (gradient clipping, rounded to float32 as torch's in-place scaling); m = b1·m + a1·g;
//   v = b2·v + a2·g²; flush; p = p·keep − stepSize·m / (√v·invSqrtBc2 + eps)
const ADAMW: Kernel = {
  name: 'adamw',
  params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32],
  pointers: 4,
  count: 4,
  splat: [5, 6, 7, 8, 9, 10, 11, 12, 13],
  body: (l) => {
    const [P, M, V, G] = [0, 1, 2, 3];
    const [keep, step, ibc, b1, a1, b2, a2, eps, gscale] = [5, 6, 7, 8, 9, 10, 11, 12, 13];
    const g = l.tmp(2), mt = l.tmp(3), vt = l.tmp(1);
    return [
      ...l.load(G), ...l.scalar(gscale), ...l.mul, ...op.localSet(g),
      ...l.scalar(b1), ...l.load(M), ...l.mul, ...l.scalar(a1), ...op.localGet(g), ...l.mul, ...l.add,
      ...l.flushBelow(0, FLUSH), ...op.localSet(mt),
      ...l.store(M, op.localGet(mt)),
      ...l.scalar(b2), ...l.load(V), ...l.mul, ...l.scalar(a2), ...op.localGet(g), ...l.mul, ...op.localGet(g), ...l.mul, ...l.add,
      ...l.flushBelow(0, FLUSH), ...op.localSet(vt),
      ...l.store(V, op.localGet(vt)),
      ...l.store(P, [
        ...l.load(P), ...l.scalar(keep), ...l.mul,
        ...l.scalar(step), ...op.localGet(mt), ...l.mul,
        ...op.localGet(vt), ...l.sqrt, ...l.scalar(ibc), ...l.mul, ...l.scalar(eps), ...l.add,
        ...l.div, ...l.sub,
      ]),
    ];
  },
};

// sgd(p, b, g, count, s, t, mu, wd, gscale): b = flush(mu·b + s·(gscale·g + wd·p)); p = p − t·b
// (SGD: s = 1, t = lr, as torch.optim.SGD; LARS: s = the layer's trust-scaled lr, t = 1)
const SGD: Kernel = {
  name: 'sgd',
  params: [I32, I32, I32, I32, F32, F32, F32, F32, F32],
  pointers: 3,
  count: 3,
  splat: [4, 5, 6, 7, 8],
  body: (l) => {
    const [P, B, G] = [0, 1, 2];
    const [s, t, mu, wd, gscale] = [4, 5, 6, 7, 8];
    const bt = l.tmp(1);
    return [
      ...l.scalar(mu), ...l.load(B), ...l.mul,
      ...l.scalar(s), ...l.load(G), ...l.scalar(gscale), ...l.mul, ...l.scalar(wd), ...l.load(P), ...l.mul, ...l.add, ...l.mul,
      ...l.add, ...l.flushBelow(0, FLUSH), ...op.localSet(bt),
      ...l.store(B, op.localGet(bt)),
      ...l.store(P, [...l.load(P), ...l.scalar(t), ...op.localGet(bt), ...l.mul, ...l.sub]),
    ];
  },
};

// ema(t, s, count, momentum, 1 − momentum): t = momentum·t + (1 − momentum)·s
const EMA: Kernel = {
  name: 'ema',
  params: [I32, I32, I32, F32, F32],
  pointers: 2,
  count: 2,
  splat: [3, 4],
  body: (l) => l.store(0, [...l.scalar(3), ...l.load(0), ...l.mul, ...l.scalar(4), ...l.load(1), ...l.mul, ...l.add]),
};

// sumsq(p, count) -> Σ p[i]² in float64 (the global gradient norm): f32 lanes promoted to f64, four f64x2 accumulators
// over 8 floats per step, then a scalar loop for the rest
const SUMSQ: Kernel = (() => {
  const [p, count, end, a0, a1, a2, a3, x, s] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const get = op.localGet, set = op.localSet;
  // t (a v128 temporary) holds each promoted half while it is squared
  const t = s + 1, tf = s + 2;
  const quad = (offset: number, lo: number, hi: number) => [
    ...get(p), ...v.loadAt(offset), ...set(x),
    ...get(lo), ...get(x), ...v.f64x2PromoteLow, ...op.localTee(t), ...get(t), ...v.f64x2Mul, ...v.f64x2Add, ...set(lo),
    ...get(hi), ...get(x), ...get(x), ...v.highToLow, ...v.f64x2PromoteLow, ...op.localTee(t), ...get(t), ...v.f64x2Mul, ...v.f64x2Add, ...set(hi),
  ];
  const code = [
    ...get(p), ...get(count), ...op.i32Const(4), ...op.i32Mul, ...op.i32Add, ...set(end),
    ...op.block, ...op.loop,
    ...get(p), ...op.i32Const(32), ...op.i32Add, ...get(end), ...op.i32GtU, ...op.brIf(1),
    ...quad(0, a0, a1), ...quad(16, a2, a3),
    ...get(p), ...op.i32Const(32), ...op.i32Add, ...set(p),
    ...op.br(0), ...op.end, ...op.end,
    ...op.block, ...op.loop,
    ...get(p), ...op.i32Const(4), ...op.i32Add, ...get(end), ...op.i32GtU, ...op.brIf(1),
    ...get(s), ...get(p), ...op.f32Load, ...op.f64PromoteF32, ...op.localTee(tf), ...get(tf), ...op.f64Mul, ...op.f64Add, ...set(s),
    ...get(p), ...op.i32Const(4), ...op.i32Add, ...set(p),
    ...op.br(0), ...op.end, ...op.end,
    ...get(s),
    ...[a0, a1, a2, a3].flatMap((a) => [...get(a), ...v.f64x2ExtractLane(0), ...op.f64Add, ...get(a), ...v.f64x2ExtractLane(1), ...op.f64Add]),
  ];
  return {
    name: 'sumsq',
    params: [I32, I32],
    results: [F64],
    pointers: 0,
    count: 0,
    splat: [],
    body: () => [],
    raw: { locals: [[1, I32], [5, V128], [1, F64], [1, V128], [1, F64]], code },
  };
})();

export interface SimdKernels {
  readonly memory: WasmMemory;
  adamw(p: number, m: number, v: number, g: number, count: number, keep: number, step: number, invSqrtBc2: number, b1: number, a1: number, b2: number, a2: number, eps: number, gscale: number): void;
  ema(t: number, s: number, count: number, momentum: number, a: number): void;
  sgd(p: number, b: number, g: number, count: number, s: number, t: number, mu: number, wd: number, gscale: number): void;
  sumsq(p: number, count: number): number;
}

/** Instantiates the kernels over a fresh memory of at least `bytes`; null where WebAssembly SIMD is unavailable. */
export function simdKernels(bytes: number): SimdKernels | null {
  const inst = instantiateKernels([ADAMW, EMA, SGD, SUMSQ], bytes);
  if (!inst) return null;
  const fn = <K extends keyof SimdKernels>(k: K) => inst.exports[k] as SimdKernels[K];
  return { memory: inst.memory, adamw: fn('adamw'), ema: fn('ema'), sgd: fn('sgd'), sumsq: fn('sumsq') };
}

const arenaKernels = new WeakMap<object, SimdKernels>();

/**
 * One kernel memory that also holds a training run's big flat buffers (student and teacher parameters, gradients,
 * optimizer state), so the optimizer and the EMA run on them in place: no copies in and out of the kernels' memory
 * each step, and no staging copies held. ORT reads and writes them like any other ArrayBuffer. The memory is
 * reserved up front (wasm memory cannot grow without invalidating every view into it); pages never written are
 * never committed by the OS, so reserving generously costs no RSS.
 */
export class SimdArena {
  private used = 0;

  private constructor(readonly kernels: SimdKernels) {}

  /** An arena of `floats` floats; null without WebAssembly SIMD, with DINOTRAIN_SIMD=0, or past wasm32's 4 GiB. */
  static create(floats: number, enabled = simdEnabled()): SimdArena | null {
    if (!enabled) return null;
    const kernels = simdKernels(4 * floats);
    if (!kernels) return null;
    arenaKernels.set(kernels.memory.buffer, kernels);
    return new SimdArena(kernels);
  }

  /** `n` zeroed floats, 16-byte aligned; null when the arena is full (the caller then allocates elsewhere). */
  alloc(n: number): Float32Array | null {
    const bytes = Math.ceil(n / 4) * 16;
    if (this.used + bytes > this.kernels.memory.buffer.byteLength) return null;
    const out = new Float32Array(this.kernels.memory.buffer, this.used, n);
    this.used += bytes;
    return out;
  }
}

/** The kernels of the arena whose memory holds every one of `arrays`; null if any lies elsewhere. */
export function kernelsHolding(...arrays: Float32Array[]): SimdKernels | null {
  const k = arenaKernels.get(arrays[0].buffer);
  return k && arrays.every((a) => a.buffer === arrays[0].buffer) ? k : null;
}
