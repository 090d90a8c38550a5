// A tiny assembler for element-wise WebAssembly SIMD (f32x4) kernels: no toolchain, no dependency. V8 compiles them
// to SSE/AVX, where a JS loop does one double at a time. A kernel is one f32x4 loop over the multiple of 4 elements
// and a scalar loop, built from the same op list, for the rest (sizes and offsets need not be multiples of 4;
// unaligned access is legal in wasm). Used by the optimizer kernels (engine/simd.ts) and the image ops (data/).

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

export const I32 = 0x7f, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  f32Const: (v: number) => [0x43, ...f32(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32GtU: [0x4b],
  i32Mul: [0x6c],
  i32GeU: [0x4f],
  i32Eqz: [0x45],
  i32Load: [0x28, 2, 0],
  f64Add: [0xa0],
  f64Mul: [0xa2],
  f64PromoteF32: [0xbb],
  f32Load: [0x2a, 2, 0],
  f32Store: [0x38, 2, 0],
  f32Abs: [0x8b],
  f32Sqrt: [0x91],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  f32Div: [0x95],
  // i32.load8_u, f32.convert_i32_u
  u8LoadAsF32: [0x2d, 0, 0, 0xb3],
  f32Min: [0x96],
  f32Max: [0x97],
  f32Lt: [0x5d],
  select: [0x1b],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  br: (d: number) => [0x0c, ...uleb(d)],
  end: [0x0b],
};
export const v = {
  load: op.simd(0x00, 0, 0),
  store: op.simd(0x0b, 0, 0),
  splat: op.simd(0x13),
  abs: op.simd(0xe0),
  sqrt: op.simd(0xe3),
  add: op.simd(0xe4),
  sub: op.simd(0xe5),
  mul: op.simd(0xe6),
  div: op.simd(0xe7),
  // v128.load32_zero, i16x8.extend_low_i8x16_u, i32x4.extend_low_i16x8_u, f32x4.convert_i32x4_u
  loadU8x4: [...op.simd(0x5c, 0, 0), ...op.simd(0x89), ...op.simd(0xa9), ...op.simd(0xfb)],
  extractLane: (i: number) => op.simd(0x1f, i),
  /** v128.load at a constant byte offset from the address on the stack */
  loadAt: (offset: number) => op.simd(0x00, 0, ...uleb(offset)),
  /** the upper two f32 lanes moved to the lower two (i8x16.shuffle of two vectors: push the same one twice) */
  highToLow: op.simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7),
  f64x2PromoteLow: op.simd(0x5f),
  f64x2Add: op.simd(0xf0),
  f64x2Mul: op.simd(0xf2),
  f64x2ExtractLane: (i: number) => op.simd(0x21, i),
  min: op.simd(0xe8),
  max: op.simd(0xe9),
  lt: op.simd(0x43),
  andnot: op.simd(0x4f),
};

/** One element-wise kernel over byte offsets: a f32x4 loop for the multiple of 4, then a scalar loop for the rest. */
export interface Kernel {
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
  /** pointers to bytes (read with loadU8), advanced by 1 or 4 per step; pointer 0 must stay a float pointer */
  bytePointers?: number[];
  /** result types (raw kernels only) */
  results?: number[];
  /** a hand-written function instead of the element-wise loop: its extra locals (count, type) and code */
  raw?: { locals: [number, number][]; code: number[] };
}

export interface Lane {
  simd: boolean;
  /** push the value at pointer i */
  load(i: number): number[];
  /** push the unsigned byte(s) at byte pointer i, converted to float */
  loadU8(i: number): number[];
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
  min: number[];
  max: number[];
  sqrt: number[];
  /** top of stack x -> (|x| < t ? 0 : x), using temporary `tmp` */
  flushBelow(tmp: number, t: number): number[];
  /** the local index of temporary i (0..3) of this lane's type */
  tmp(i: number): number;
}

function assemble(kernels: Kernel[], pages: number): Uint8Array {
  const types: number[][] = kernels.map((k) => [0x60, ...vec(k.params.map((t) => [t])), ...vec((k.results ?? []).map((t) => [t]))]);
  const imports = vec([[...name('env'), ...name('mem'), 0x02, 0x00, ...uleb(pages)]]); // memory, min pages
  const funcs = vec(kernels.map((_, i) => uleb(i)));
  const exports = vec(kernels.map((k, i) => [...name(k.name), 0x00, ...uleb(i)]));
  const codes = kernels.map((k) => {
    if (k.raw) {
      const fn = [...vec(k.raw.locals.map(([n, t]) => [...uleb(n), t])), ...k.raw.code, ...op.end];
      return [...uleb(fn.length), ...fn];
    }
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
      loadU8: (i) => [...op.localGet(i), ...(simd ? v.loadU8x4 : op.u8LoadAsF32)],
      store: (i, value) => [...op.localGet(i), ...value, ...(simd ? v.store : op.f32Store)],
      scalar: (i) => (simd ? op.localGet(vSplat + k.splat.indexOf(i)) : op.localGet(i)),
      c: (x) => (simd ? [...op.f32Const(x), ...v.splat] : op.f32Const(x)),
      add: simd ? v.add : op.f32Add,
      sub: simd ? v.sub : op.f32Sub,
      mul: simd ? v.mul : op.f32Mul,
      div: simd ? v.div : op.f32Div,
      min: simd ? v.min : op.f32Min,
      max: simd ? v.max : op.f32Max,
      sqrt: simd ? v.sqrt : op.f32Sqrt,
      tmp: (i) => (simd ? vTmp : fTmp) + i,
      flushBelow: (tmp, t) =>
        simd
          ? // x &~ (|x| < t)
            [...op.localTee(vTmp + tmp), ...op.localGet(vTmp + tmp), ...v.abs, ...op.f32Const(t), ...v.splat, ...v.lt, ...v.andnot]
          : // select(0, x, |x| < t)
            [...op.localSet(fTmp + tmp), ...op.f32Const(0), ...op.localGet(fTmp + tmp), ...op.localGet(fTmp + tmp), ...op.f32Abs, ...op.f32Const(t), ...op.f32Lt, ...op.select],
    });
    const bytes = new Set(k.bytePointers ?? []);
    const advance = (by: number) =>
      Array.from({ length: k.pointers }, (_, i) => [...op.localGet(i), ...op.i32Const(bytes.has(i) ? by / 4 : by), ...op.i32Add, ...op.localSet(i)]).flat();
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

// The few WebAssembly JS-API members used here (the project's TypeScript libs do not declare them).
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/**
 * The one switch for every SIMD kernel (optimizers, EMA, clipping, augmentations): DINOTRAIN_SIMD=0 runs the plain
 * JS reference loops instead, to compare against or to rule the kernels out.
 */
export function simdEnabled(): boolean {
  return process.env.DINOTRAIN_SIMD !== '0';
}

/** WebAssembly, where the runtime has it. */
function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/**
 * Assembles `kernels` over a fresh memory of at least `bytes`; null where WebAssembly SIMD is unavailable (or the
 * memory would pass wasm32's 4 GiB). The exports are the kernels by name.
 */
export function instantiateKernels(kernels: Kernel[], bytes: number): { memory: WasmMemory; exports: Record<string, unknown> } | null {
  const wasm = wasmApi();
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (!wasm || pages > 60000) return null;
  try {
    const module = new wasm.Module(assemble(kernels, pages));
    const memory = new wasm.Memory({ initial: pages, maximum: pages });
    return { memory, exports: new wasm.Instance(module, { env: { mem: memory } }).exports };
  } catch {
    return null;
  }
}
