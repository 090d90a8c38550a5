// Optimizer loops (AdamW, SGD/LARS, EMA) as WebAssembly SIMD (f32x4) kernels, assembled here from bytes: no toolchain, no
// dependency. V8 compiles them to SSE/AVX, where the JS loops they replace do one double at a time. The flat buffers
// are JS ArrayBuffers owned elsewhere, so callers copy them into the kernels' memory (one memcpy each); even so
// AdamW runs ~6x and the EMA ~3x faster than in JS (docs/benchmarks.md). Arithmetic is float32, like torch's.
// Each kernel is one f32x4 loop over the multiple of 4 elements and a scalar loop, built from the same op list, for
// the rest (tensor sizes and offsets need not be multiples of 4; unaligned access is legal in wasm).

// ------------------------------------------------------------------------------------------------ encoding

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const f32 = (x: number): number[] => [...new Uint8Array(Float32Array.of(x).buffer)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  f32Const: (v: number) => [0x43, ...f32(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32GtU: [0x4b],
  i32Mul: [0x6c],
  f32Load: [0x2a, 2, 0],
  f32Store: [0x38, 2, 0],
  f32Abs: [0x8b],
  f32Sqrt: [0x91],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Lt: [0x5d],
  select: [0x1b],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  br: (d: number) => [0x0c, ...uleb(d)],
  end: [0x0b],
};
const v = {
  load: op.simd(0x00, 0, 0),
  store: op.simd(0x0b, 0, 0),
  splat: op.simd(0x13),
  abs: op.simd(0xe0),
  sqrt: op.simd(0xe3),
  add: op.simd(0xe4),
  sub: op.simd(0xe5),
  mul: op.simd(0xe6),
  div: op.simd(0xe7),
  lt: op.simd(0x43),
  andnot: op.simd(0x4f),
};

/** One element-wise kernel over byte offsets: a f32x4 loop for the multiple of 4, then a scalar loop for the rest. */
interface Kernel {
  name: string;
  /** parameter types; the first `pointers` are i32 byte offsets advanced by 4 (scalar) or 16 (SIMD) per step */
  params: number[];
  pointers: number;
  /** index of the i32 element-count parameter */
  count: number;
  /** f32 parameters that the SIMD loop needs splatted (parameter indices) */
  splat: number[];
  /** the loop body for one element (scalar lane) or four (SIMD lane) */
  body(lane: Lane): number[];
}

interface Lane {
  simd: boolean;
  /** push the value at pointer i */
  load(i: number): number[];
  /** store the value on top of the stack (computed by `value`) at pointer i */
  store(i: number, value: number[]): number[];
  /** push f32 parameter i (splatted for SIMD) */
  scalar(i: number): number[];
  /** push a constant */
  c(x: number): number[];
  add: number[];
  sub: number[];
  mul: number[];
  div: number[];
  sqrt: number[];
  /** top of stack x -> (|x| < t ? 0 : x), using temporary `tmp` */
  flushBelow(tmp: number, t: number): number[];
  /** the local index of temporary i (0..3) of this lane's type */
  tmp(i: number): number;
}

function assemble(kernels: Kernel[], pages: number): Uint8Array {
  const types: number[][] = kernels.map((k) => [0x60, ...vec(k.params.map((t) => [t])), 0]);
  const imports = vec([[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(pages)]]); // memory, min pages
  const funcs = vec(kernels.map((_, i) => uleb(i)));
  const exports = vec(kernels.map((k, i) => [...name(k.name), 0x00, ...uleb(i)]));
  const codes = kernels.map((k) => {
    const np = k.params.length;
    // locals after the params: v128 splats, v128 temporaries (4), f32 temporaries (4), i32 end pointer
    const vSplat = np, vTmp = np + k.splat.length, fTmp = vTmp + 4, end = fTmp + 4;
    const locals = [
      [...uleb(k.splat.length + 4), V128],
      [...uleb(4), F32],
      [...uleb(1), I32],
    ];
    const lane = (simd: boolean): Lane => ({
      simd,
      load: (i) => [...op.localGet(i), ...(simd ? v.load : op.f32Load)],
      store: (i, value) => [...op.localGet(i), ...value, ...(simd ? v.store : op.f32Store)],
      scalar: (i) => (simd ? op.localGet(vSplat + k.splat.indexOf(i)) : op.localGet(i)),
      c: (x) => (simd ? [...op.f32Const(x), ...v.splat] : op.f32Const(x)),
      add: simd ? v.add : op.f32Add,
      sub: simd ? v.sub : op.f32Sub,
      mul: simd ? v.mul : op.f32Mul,
      div: simd ? v.div : op.f32Div,
      sqrt: simd ? v.sqrt : op.f32Sqrt,
      tmp: (i) => (simd ? vTmp : fTmp) + i,
      flushBelow: (tmp, t) =>
        simd
          ? // x &~ (|x| < t)
            [...op.localTee(vTmp + tmp), ...op.localGet(vTmp + tmp), ...v.abs, ...op.f32Const(t), ...v.splat, ...v.lt, ...v.andnot]
          : // select(0, x, |x| < t)
            [...op.localSet(fTmp + tmp), ...op.f32Const(0), ...op.localGet(fTmp + tmp), ...op.localGet(fTmp + tmp), ...op.f32Abs, ...op.f32Const(t), ...op.f32Lt, ...op.select],
    });
    const advance = (by: number) => Array.from({ length: k.pointers }, (_, i) => [...op.localGet(i), ...op.i32Const(by), ...op.i32Add, ...op.localSet(i)]).flat();
    // while (p0 + stride <= end) { body; advance every pointer by stride }
    const loopUntil = (simd: boolean, stride: number) => [
      ...op.block,
      ...op.loop,
      ...op.localGet(0), ...op.i32Const(stride), ...op.i32Add, ...op.localGet(end), ...op.i32GtU,
      ...op.brIf(1),
      ...k.body(lane(simd)),
      ...advance(stride),
      ...op.br(0),
      ...op.end,
      ...op.end,
    ];
    const body = [
      // end = p0 + 4 * count
      ...op.localGet(0), ...op.localGet(k.count), ...op.i32Const(4), ...op.i32Mul, ...op.i32Add, ...op.localSet(end),
      ...k.splat.flatMap((p, i) => [...op.localGet(p), ...v.splat, ...op.localSet(vSplat + i)]),
      ...loopUntil(true, 16),
      ...loopUntil(false, 4),
      ...op.end,
    ];
    const fn = [...vec(locals), ...body];
    return [...uleb(fn.length), ...fn];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(7, exports),
    ...section(10, vec(codes)),
  ]);
}

// ------------------------------------------------------------------------------------------------ kernels

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

// The few WebAssembly JS-API members used here (the project's TypeScript libs do not declare them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

export interface SimdKernels {
  readonly memory: WasmMemory;
  adamw(p: number, m: number, v: number, g: number, count: number, keep: number, step: number, invSqrtBc2: number, b1: number, a1: number, b2: number, a2: number, eps: number, gscale: number): void;
  ema(t: number, s: number, count: number, momentum: number, a: number): void;
  sgd(p: number, b: number, g: number, count: number, s: number, t: number, mu: number, wd: number, gscale: number): void;
}

/** Instantiates the kernels over a fresh memory of at least `bytes`; null where WebAssembly SIMD is unavailable. */
export function simdKernels(bytes: number): SimdKernels | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (!wasm || pages > 60000) return null; // wasm32 memory tops out at 4 GiB
  try {
    const module = new wasm.Module(assemble([ADAMW, EMA, SGD], pages));
    const memory = new wasm.Memory({ initial: pages, maximum: pages });
    const inst = new wasm.Instance(module, { env: { mem: memory } });
    const fn = <K extends keyof SimdKernels>(k: K) => inst.exports[k] as SimdKernels[K];
    return { memory, adamw: fn('adamw'), ema: fn('ema'), sgd: fn('sgd') };
  } catch {
    return null;
  }
}

/** The kernels over one memory holding `count` 16-byte-aligned regions of `length` floats each. */
export interface SimdRegions {
  kernels: SimdKernels;
  regions: Float32Array[];
}

/**
 * Kernels plus `count` regions of `length` floats (staging areas and optimizer state), or null when `enabled` is
 * false, DINOTRAIN_SIMD=0, or WebAssembly SIMD is unavailable (callers then run their JS loops).
 */
export function simdRegions(length: number, count: number, enabled = process.env.DINOTRAIN_SIMD !== '0'): SimdRegions | null {
  if (!enabled) return null;
  const stride = Math.ceil(length / 4) * 4;
  const kernels = simdKernels(4 * count * stride);
  if (!kernels) return null;
  return { kernels, regions: Array.from({ length: count }, (_, i) => new Float32Array(kernels.memory.buffer, 4 * i * stride, length)) };
}
