// WebAssembly SIMD kernels for the per-view image ops (util/wasm-simd.ts), over one growable scratch memory per
// thread (each augmentation worker has its own). Views are small (a few hundred KB), so copying one in and out
// costs far less than the JS loops these replace.
import { F32, I32, instantiateKernels, op, simdEnabled, v, V128, type Kernel, type Lane } from '../util/wasm-simd.js';

// taps0(o, a, count, w): o = w·a
const TAPS0: Kernel = {
  name: 'taps0',
  params: [I32, I32, I32, F32],
  pointers: 2,
  count: 2,
  splat: [3],
  body: (l) => l.store(0, [...l.load(1), ...l.scalar(3), ...l.mul]),
};

// tapsPair(o, a, b, count, w): o = o + w·(a + b), the two taps of a symmetric kernel that share a weight
const TAPS_PAIR: Kernel = {
  name: 'tapsPair',
  params: [I32, I32, I32, I32, F32],
  pointers: 3,
  count: 3,
  splat: [4],
  body: (l) => l.store(0, [...l.load(0), ...l.load(1), ...l.load(2), ...l.add, ...l.scalar(4), ...l.mul, ...l.add]),
};

// bytesTap0(o, a, count, w): o = w·a and bytesTap(o, a, count, w): o = o + w·a, with a unsigned bytes (the first and
// the further taps of a resample over 8-bit pixels)
const bytesTap = (name: string, accumulate: boolean): Kernel => ({
  name,
  params: [I32, I32, I32, F32],
  pointers: 2,
  bytePointers: [1],
  count: 2,
  splat: [3],
  body: (l) => l.store(0, [...(accumulate ? l.load(0) : []), ...l.loadU8(1), ...l.scalar(3), ...l.mul, ...(accumulate ? l.add : [])]),
});
const BYTES_TAP0 = bytesTap('bytesTap0', false);
const BYTES_TAP = bytesTap('bytesTap', true);

// resampleRows(src, rows, rowBytes, outW, starts, counts, weights, weightBytes, dst, planeBytes): for each of `rows`
// rows of interleaved RGB floats at src and each output x, the weighted sum of counts[x] pixels from byte offset
// starts[x] (weights at weights + x·weightBytes), as one f32x4 of (r, g, b, –) per tap; r, g, b divided by 255 and
// stored planar at dst (+ planeBytes per channel). Reads one float past a row's last pixel (the caller leaves room).
const RESAMPLE_ROWS: Kernel = (() => {
  const [src, rows, rowBytes, outW, starts, counts, weights, weightBytes, dst, planeBytes] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [y, x, p, wp, n, o, rowBase, acc] = [10, 11, 12, 13, 14, 15, 16, 17];
  const get = op.localGet, set = op.localSet;
  const addTo = (local: number, by: number[]) => [...get(local), ...by, ...op.i32Add, ...set(local)];
  const whileBelow = (i: number, limit: number, body: number[]) => [
    ...op.block, ...op.loop,
    ...get(i), ...get(limit), ...op.i32GeU, ...op.brIf(1),
    ...body,
    ...op.br(0), ...op.end, ...op.end,
  ];
  const taps = [
    ...op.block, ...op.loop,
    ...get(n), ...op.i32Eqz, ...op.brIf(1),
    ...get(acc), ...get(p), ...v.load, ...get(wp), ...op.f32Load, ...v.splat, ...v.mul, ...v.add, ...set(acc),
    ...addTo(p, op.i32Const(12)), ...addTo(wp, op.i32Const(4)), ...get(n), ...op.i32Const(1), ...op.i32Sub, ...set(n),
    ...op.br(0), ...op.end, ...op.end,
  ];
  const store = (lane: number, offset: number[]) => [...get(o), ...offset, ...op.i32Add, ...get(acc), ...v.extractLane(lane), ...op.f32Store];
  const pixel = [
    ...get(rowBase), ...get(starts), ...get(x), ...op.i32Const(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load, ...op.i32Add, ...set(p),
    ...get(weights), ...get(x), ...get(weightBytes), ...op.i32Mul, ...op.i32Add, ...set(wp),
    ...get(counts), ...get(x), ...op.i32Const(4), ...op.i32Mul, ...op.i32Add, ...op.i32Load, ...set(n),
    ...op.f32Const(0), ...v.splat, ...set(acc),
    ...taps,
    ...get(acc), ...op.f32Const(255), ...v.splat, ...v.div, ...set(acc),
    ...store(0, op.i32Const(0)), ...store(1, get(planeBytes)), ...store(2, [...get(planeBytes), ...get(planeBytes), ...op.i32Add]),
    ...addTo(o, op.i32Const(4)), ...addTo(x, op.i32Const(1)),
  ];
  const row = [
    ...get(src), ...get(y), ...get(rowBytes), ...op.i32Mul, ...op.i32Add, ...set(rowBase),
    ...op.i32Const(0), ...set(x),
    ...whileBelow(x, outW, pixel),
    ...addTo(y, op.i32Const(1)),
  ];
  return {
    name: 'resampleRows',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    pointers: 0,
    count: 0,
    splat: [],
    body: () => [],
    raw: { locals: [[7, I32], [1, V128]], code: [...get(dst), ...set(o), ...whileBelow(y, rows, row)] },
  };
})();

const clamp01 = (l: Lane) => [...l.c(0), ...l.max, ...l.c(1), ...l.min];

// ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
export const LUMA = [0.2989, 0.587, 0.114] as const;
const luma = (l: Lane, r: number, g: number, b: number) => [
  ...l.load(r), ...l.c(LUMA[0]), ...l.mul, ...l.load(g), ...l.c(LUMA[1]), ...l.mul, ...l.add, ...l.load(b), ...l.c(LUMA[2]), ...l.mul, ...l.add,
];

/** An in-place kernel name(p, count, ...scalars): p = value(p), the scalars being f32 parameters 2, 3, ... */
const inPlace = (name: string, scalars: number, value: (l: Lane) => number[]): Kernel => ({
  name,
  params: [I32, I32, ...Array<number>(scalars).fill(F32)],
  pointers: 1,
  count: 1,
  splat: Array.from({ length: scalars }, (_, i) => 2 + i),
  body: (l) => l.store(0, value(l)),
});

// scaleClamp(p, count, f): p = clamp01(f·p)  (brightness)
const SCALE_CLAMP = inPlace('scaleClamp', 1, (l) => [...l.load(0), ...l.scalar(2), ...l.mul, ...clamp01(l)]);
// affineClamp(p, count, f, off): p = clamp01(f·p + off)  (contrast)
const AFFINE_CLAMP = inPlace('affineClamp', 2, (l) => [...l.load(0), ...l.scalar(2), ...l.mul, ...l.scalar(3), ...l.add, ...clamp01(l)]);
// standardize(p, count, mean, inv): p = (p − mean)·inv
const STANDARDIZE = inPlace('standardize', 2, (l) => [...l.load(0), ...l.scalar(2), ...l.sub, ...l.scalar(3), ...l.mul]);

// lumaOf(o, r, g, b, count): o = luma(r, g, b)
const LUMA_OF: Kernel = {
  name: 'lumaOf',
  params: [I32, I32, I32, I32, I32],
  pointers: 4,
  count: 4,
  splat: [],
  body: (l) => l.store(0, luma(l, 1, 2, 3)),
};

// saturate(r, g, b, count, f, keep): gray = keep·luma; each channel = clamp01(f·c + gray)
const SATURATE: Kernel = {
  name: 'saturate',
  params: [I32, I32, I32, I32, F32, F32],
  pointers: 3,
  count: 3,
  splat: [4, 5],
  body: (l) => {
    const gray = l.tmp(0);
    return [
      ...luma(l, 0, 1, 2), ...l.scalar(5), ...l.mul, ...op.localSet(gray),
      ...[0, 1, 2].flatMap((c) => l.store(c, [...l.scalar(4), ...l.load(c), ...l.mul, ...op.localGet(gray), ...l.add, ...clamp01(l)])),
    ];
  },
};

export interface ImageKernels {
  /** the scratch memory as floats (use the object of the latest imageKernels call: a bigger memory replaces it) */
  f32: Float32Array;
  /** byte offsets into the memory */
  taps0(o: number, a: number, count: number, w: number): void;
  tapsPair(o: number, a: number, b: number, count: number, w: number): void;
  scaleClamp(p: number, count: number, f: number): void;
  affineClamp(p: number, count: number, f: number, off: number): void;
  standardize(p: number, count: number, mean: number, inv: number): void;
  lumaOf(o: number, r: number, g: number, b: number, count: number): void;
  saturate(r: number, g: number, b: number, count: number, f: number, keep: number): void;
  bytesTap0(o: number, a: number, count: number, w: number): void;
  bytesTap(o: number, a: number, count: number, w: number): void;
  resampleRows(src: number, rows: number, rowBytes: number, outW: number, starts: number, counts: number, weights: number, weightBytes: number, dst: number, planeBytes: number): void;
  /** the scratch memory as bytes */
  u8: Uint8Array;
}

const KERNELS = [TAPS0, TAPS_PAIR, SCALE_CLAMP, AFFINE_CLAMP, STANDARDIZE, LUMA_OF, SATURATE, BYTES_TAP0, BYTES_TAP, RESAMPLE_ROWS];
type KernelName = Exclude<keyof ImageKernels, 'f32' | 'u8'>;

let current: ImageKernels | null | undefined;

/** Turns the kernels off (every op then runs its JS loop) or back on; for tests and benchmarks. */
export function setImageKernels(enabled: boolean): void {
  current = enabled ? undefined : null;
}

/**
 * The kernels with room for at least `floats` floats of scratch; null when WebAssembly SIMD is unavailable or
 * DINOTRAIN_SIMD=0 (callers then run their JS loops).
 */
export function imageKernels(floats: number): ImageKernels | null {
  if (current === null) return null;
  if (current && current.f32.length >= floats) return current;
  if (!simdEnabled()) return (current = null);
  // grow by doubling, so a run with a few sizes of views settles on one memory
  const inst = instantiateKernels(KERNELS, 4 * Math.max(floats, 2 * (current?.f32.length ?? 0), 1 << 16));
  if (!inst) return (current = null);
  const fns = Object.fromEntries(KERNELS.map((k) => [k.name, inst.exports[k.name]])) as Pick<ImageKernels, KernelName>;
  current = { f32: new Float32Array(inst.memory.buffer), u8: new Uint8Array(inst.memory.buffer), ...fns };
  return current;
}

/**
 * Runs `body` on a copy of a planar image's floats in kernel memory (at byte offset 0, `extra` floats of scratch
 * after them) and copies the result back; false (nothing run) without SIMD kernels.
 */
export function withImageInKernels(data: Float32Array, extra: number, body: (k: ImageKernels) => void): boolean {
  const k = imageKernels(data.length + extra);
  if (!k) return false;
  k.f32.set(data);
  body(k);
  data.set(k.f32.subarray(0, data.length));
  return true;
}
