// Shape and indexing ops (Reshape, Transpose, Concat, Slice, Split, Gather, Expand, Unsqueeze, Squeeze, Pad) and
// their gradient rules, plus the helpers the rules share (unbroadcast, zerosLike).

import { Graph } from '../core.js';
import { broadcastShapes, canon, dimAdd, dimDiv, dimEq, fmtShape, isStatic, isStaticShape, normAxis, numel, shapeEq } from '../dims.js';
import { Tensor } from '../tensor.js';
import type { DType, Dim, Shape } from '../types.js';
import { defineVjp } from '../vjp.js';

/** Slice end meaning "to the end of the axis". */
export const END = Number.MAX_SAFE_INTEGER;

declare module '../core.js' {
  interface Graph {
    /** Reshape; `shape` may hold one -1 and symbolic dims (emitted as -1/0 or a run-time shape tensor) */
    reshape(x: Tensor, shape: Shape): Tensor;
    /** [d0..d(axis-1), rest] -> 2-D [prod(before), prod(after)] as ONNX Flatten */
    flatten(x: Tensor, axis?: number): Tensor;
    /** Transpose; perm defaults to reversing the axes */
    transpose(x: Tensor, perm?: readonly number[]): Tensor;
    /** swaps the last two axes */
    swapLast(x: Tensor): Tensor;
    concat(xs: readonly Tensor[], axis: number): Tensor;
    /** Slice with constant starts/ends (END = to the end), optional axes and steps (gradient needs step 1) */
    slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Tensor;
    /** Split along axis into parts of the given sizes, or into `parts` equal parts (works on symbolic dims) */
    split(x: Tensor, axis: number, sizes: readonly number[] | number): Tensor[];
    /** Gather along axis: a number (drops the axis), a list of constant indices or an int64 index tensor */
    gather(x: Tensor, indices: number | readonly number[] | Tensor, axis: number): Tensor;
    /** GatherElements (torch.gather) */
    gatherElements(x: Tensor, indices: Tensor, axis: number): Tensor;
    /** ScatterElements; reduction 'none' | 'add' */
    scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction?: 'none' | 'add'): Tensor;
    /** Expand (broadcast) to `shape`; symbolic dims are read at run time */
    expand(x: Tensor, shape: Shape): Tensor;
    unsqueeze(x: Tensor, axes: readonly number[]): Tensor;
    squeeze(x: Tensor, axes: readonly number[]): Tensor;
    /** constant padding; pads = [begin_0..begin_{r-1}, end_0..end_{r-1}] */
    pad(x: Tensor, pads: readonly number[], value?: number): Tensor;
    /** sums g over broadcast axes so it has `shape` (undoes numpy broadcasting) */
    unbroadcast(g: Tensor, shape: Shape): Tensor;
    zerosLike(t: Tensor): Tensor;
    onesLike(t: Tensor): Tensor;
    /** a tensor of `shape` filled with `value` (symbolic dims allowed) */
    full(shape: Shape, value: number, dtype?: DType): Tensor;
  }
}

const P = Graph.prototype;

/** The values of a constant int tensor (Constant node or initializer). */
export function constInts(t: Tensor | null | undefined, what: string): number[] {
  if (!t?.value) throw new Error(`${what} must be a constant`);
  return Array.from(t.value.data as ArrayLike<number | bigint>, Number);
}

P.reshape = function (x, shape) {
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new Error(`reshape: more than one -1 in ${fmtShape(shape)}`);
  const total = numel(x.shape);
  const known = numel(shape.filter((d) => d !== -1));
  const fill = holes ? dimDiv(total, known) : undefined;
  if (holes && fill === undefined) throw new Error(`reshape ${fmtShape(x.shape)} -> ${fmtShape(shape)}: sizes do not divide`);
  const out = shape.map((d) => (d === -1 ? fill! : canon(d)));
  if (out.some((d) => d === 0)) throw new Error('reshape to a zero-size dim is not supported');
  if (!dimEq(numel(out), total)) throw new Error(`reshape ${fmtShape(x.shape)} -> ${fmtShape(shape)}: element counts differ`);
  if (shapeEq(out, x.shape)) return x;
  return this.one('Reshape', [x, reshapeTarget(this, x, out)], null, out);
};

// The cheapest shape input that ORT resolves to `out` at run time: constants, with -1 for one symbolic dim and
// 0 ("copy") for symbolic dims that sit where x has the same dim; else a Shape/Concat-built tensor.
function reshapeTarget(g: Graph, x: Tensor, out: readonly Dim[]): Tensor {
  if (isStaticShape(out)) return g.i64(out);
  const ints: number[] = [];
  let holes = 0;
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (isStatic(d)) ints.push(d);
    else if (i < x.rank && dimEq(x.shape[i], d) && out.filter((e) => !isStatic(e)).length > 1) ints.push(0);
    else {
      ints.push(-1);
      holes++;
    }
  }
  return holes <= 1 ? g.i64(ints) : g.shapeTensor(out);
}

P.flatten = function (x, axis = 1) {
  const a = axis < 0 ? axis + x.rank : axis;
  return this.reshape(x, [numel(x.shape.slice(0, a)), numel(x.shape.slice(a))]);
};

P.transpose = function (x, perm) {
  const p = perm ?? [...Array(x.rank).keys()].reverse();
  if (p.length !== x.rank) throw new Error(`transpose perm ${p} for rank ${x.rank}`);
  if (p.every((v, i) => v === i)) return x;
  return this.one('Transpose', [x], { perm: [...p] }, p.map((i) => x.shape[i]));
};

P.swapLast = function (x) {
  const p = [...Array(x.rank).keys()];
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return this.transpose(x, p);
};

P.concat = function (xs, axis) {
  if (xs.length === 0) throw new Error('concat of nothing');
  if (xs.length === 1) return xs[0];
  const a = normAxis(axis, xs[0].rank);
  const shape = [...xs[0].shape];
  for (const t of xs.slice(1)) {
    if (t.rank !== shape.length || t.shape.some((d, i) => i !== a && !dimEq(d, shape[i])))
      throw new Error(`concat along ${a}: ${fmtShape(xs[0].shape)} vs ${fmtShape(t.shape)}`);
    const s = dimAdd(shape[a], t.shape[a]);
    if (s === undefined) throw new Error(`concat: cannot add dims ${shape[a]} and ${t.shape[a]}`);
    shape[a] = s;
  }
  return this.one('Concat', xs, { axis: a }, shape);
};

function sliceRange(d: Dim, start: number, end: number, step: number): { b: number; e: number; len: Dim } {
  if (!isStatic(d)) {
    if (start === 0 && end >= END && step === 1) return { b: 0, e: END, len: d };
    throw new Error(`slice of symbolic dim ${d} must take the whole axis`);
  }
  if (step <= 0) throw new Error('slice steps must be positive');
  const clamp = (v: number) => Math.max(0, Math.min(d, v < 0 ? v + d : v));
  const b = clamp(start), e = clamp(end);
  return { b, e, len: Math.max(0, Math.ceil((e - b) / step)) };
}

P.slice = function (x, starts, ends, axes, steps) {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank));
  const st = steps ?? ax.map(() => 1);
  const shape = [...x.shape];
  ax.forEach((a, i) => (shape[a] = sliceRange(x.shape[a], starts[i], ends[i], st[i]).len));
  const ins = [x, this.i64(starts), this.i64(ends), this.i64(ax)];
  if (steps) ins.push(this.i64(st));
  return this.one('Slice', ins, null, shape);
};

P.split = function (x, axis, sizes) {
  const a = normAxis(axis, x.rank);
  if (typeof sizes === 'number') {
    const part = dimDiv(x.shape[a], sizes);
    if (part === undefined) throw new Error(`split: ${x.shape[a]} is not divisible into ${sizes} parts`);
    const shape = x.shape.map((d, i) => (i === a ? part : d));
    return this.node('Split', [x], { axis: a, num_outputs: sizes }, sizes === 1 ? [[shape, x.dtype]] : Array(sizes).fill([shape, x.dtype]));
  }
  const total = sizes.reduce((s, v) => s + v, 0);
  if (!dimEq(total, x.shape[a])) throw new Error(`split sizes ${sizes} do not add up to ${x.shape[a]}`);
  return this.node('Split', [x, this.i64(sizes)], { axis: a }, sizes.map((z) => [x.shape.map((d, i) => (i === a ? z : d)), x.dtype] as const));
};

P.gather = function (x, indices, axis) {
  const a = normAxis(axis, x.rank);
  let idx: Tensor;
  if (typeof indices === 'number') idx = this.const(indices < 0 && isStatic(x.shape[a]) ? indices + x.shape[a] : indices, [], 'int64');
  else if (indices instanceof Tensor) idx = indices;
  else idx = this.i64(indices.map((i) => (i < 0 && isStatic(x.shape[a]) ? i + (x.shape[a] as number) : i)));
  if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('gather indices must be int64 or int32');
  const shape = [...x.shape.slice(0, a), ...idx.shape, ...x.shape.slice(a + 1)];
  return this.one('Gather', [x, idx], { axis: a }, shape);
};

P.gatherElements = function (x, indices, axis) {
  const a = normAxis(axis, x.rank);
  return this.one('GatherElements', [x, indices], { axis: a }, indices.shape, x.dtype);
};

P.scatterElements = function (data, indices, updates, axis, reduction = 'none') {
  const a = normAxis(axis, data.rank);
  return this.one('ScatterElements', [data, indices, updates], { axis: a, reduction }, data.shape);
};

P.expand = function (x, shape) {
  const out = broadcastShapes(x.shape, shape);
  if (shapeEq(out, x.shape)) return x;
  return this.one('Expand', [x, this.shapeTensor(shape)], null, out);
};

P.unsqueeze = function (x, axes) {
  const r = x.rank + axes.length;
  const ax = axes.map((a) => normAxis(a, r)).sort((p, q) => p - q);
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
  return this.one('Unsqueeze', [x, this.i64(ax)], null, shape);
};

P.squeeze = function (x, axes) {
  const ax = axes.map((a) => normAxis(a, x.rank));
  for (const a of ax) if (x.shape[a] !== 1) throw new Error(`squeeze axis ${a} of ${fmtShape(x.shape)} is not 1`);
  return this.one('Squeeze', [x, this.i64(ax)], null, x.shape.filter((_, i) => !ax.includes(i)));
};

P.pad = function (x, pads, value = 0) {
  const r = x.rank;
  if (pads.length !== 2 * r) throw new Error(`pad needs ${2 * r} pads`);
  if (pads.every((p) => p === 0)) return x;
  const shape = x.shape.map((d, i) => {
    if (pads[i] === 0 && pads[i + r] === 0) return d;
    if (!isStatic(d)) throw new Error(`pad of symbolic dim ${d}`);
    return d + pads[i] + pads[i + r];
  });
  const ins = value === 0 ? [x, this.i64(pads)] : [x, this.i64(pads), this.lift(value, x)];
  return this.one('Pad', ins, { mode: 'constant' }, shape);
};

P.unbroadcast = function (g, shape) {
  if (shapeEq(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  // Summing away leading axes (a bias or LayerNorm parameter gradient: [..., C] -> [C]) as ones[1, rows] @ g[rows, C]:
  // ORT's MatMul does this about twice as fast as its ReduceSum over the first axis.
  const prefix = axes.every((a, i) => a === i);
  const cols = g.shape.slice(axes.length);
  if (prefix && axes.length > 0 && cols.length > 0 && isStaticShape(cols) && !this.decompose) {
    const rows = numel(g.shape.slice(0, axes.length));
    const c = numel(cols) as number;
    const ones = this.full([1, rows], 1, g.dtype);
    return this.reshape(this.matmul(ones, this.reshape(g, [rows, c])), shape);
  }
  if (axes.every((a) => a < lead)) return this.reduceSum(g, axes, false);
  return this.reshape(this.reduceSum(g, axes, true), shape);
};

P.full = function (this: Graph, shape: Shape, value: number, dtype: DType = this.dtype) {
  const s = this.const(value, [], dtype);
  return shape.length === 0 ? s : this.one('Expand', [s, this.shapeTensor(shape)], null, shape.map(canon), dtype);
};
P.zerosLike = function (t) {
  const s = this.const(0, [], t.dtype);
  return t.rank === 0 ? s : this.one('Expand', [s, this.shapeTensor(t.shape, t)], null, t.shape, t.dtype);
};
P.onesLike = function (t) {
  const s = this.const(1, [], t.dtype);
  return t.rank === 0 ? s : this.one('Expand', [s, this.shapeTensor(t.shape, t)], null, t.shape, t.dtype);
};

// ---------------------------------------------------------------- gradient rules

defineVjp('Reshape', (g, { inputs: [x] }, [gy]) => [g.reshape(gy!, x!.shape)]);
defineVjp('Transpose', (g, { attrs }, [gy]) => {
  const perm = attrs.perm as number[];
  const inv: number[] = [];
  perm.forEach((p, i) => (inv[p] = i));
  return [g.transpose(gy!, inv)];
});
defineVjp('Expand', (g, { inputs: [x] }, [gy]) => [g.unbroadcast(gy!, x!.shape)]);
defineVjp('Unsqueeze', (g, { inputs: [x, axes] }, [gy]) => [g.squeeze(gy!, constInts(axes, 'Unsqueeze axes'))]);
defineVjp('Squeeze', (g, { inputs: [x, axes] }, [gy]) => [g.unsqueeze(gy!, constInts(axes, 'Squeeze axes'))]);

defineVjp('Concat', (g, { inputs, attrs, outputs: [y] }, [gy], need) => {
  const a = attrs.axis as number;
  const sizes = inputs.map((t) => t!.shape[a]);
  let parts: Tensor[];
  if (sizes.every(isStatic)) parts = g.split(gy!, a, sizes as number[]);
  else if (sizes.every((d) => dimEq(d, sizes[0]))) parts = g.split(gy!, a, sizes.length);
  else {
    // symbolic sizes: Split with a run-time sizes tensor
    const sz = g.one('Concat', sizes.map((d) => g.dimTensor(d)), { axis: 0 }, [sizes.length], 'int64');
    parts = g.node('Split', [gy!, sz], { axis: a }, inputs.map((t) => [y.shape.map((d, i) => (i === a ? t!.shape[a] : d)), gy!.dtype] as const));
  }
  return parts.map((p, i) => need[i] && p);
});

defineVjp('Split', (g, { inputs: [x], attrs, outputs }, gys) => [
  g.concat(gys.map((gy, i) => gy ?? g.zerosLike(outputs[i])), attrs.axis as number),
]);

defineVjp('Slice', (g, { inputs: [x, s, e, ax, st], outputs: [y] }, [gy]) => {
  const starts = constInts(s, 'Slice starts'), ends = constInts(e, 'Slice ends'), axes = constInts(ax, 'Slice axes');
  const steps = st ? constInts(st, 'Slice steps') : axes.map(() => 1);
  const r = x!.rank, pads = new Array<number>(2 * r).fill(0);
  let gx = gy!;
  axes.forEach((a, i) => {
    const d = x!.shape[a];
    if (!isStatic(d)) return; // whole symbolic axis
    const { b } = sliceRange(d, starts[i], ends[i], steps[i]);
    let len = y.shape[a] as number;
    if (steps[i] > 1) {
      // spread the gradient out: every step-th element, zeros between ([.., L, ..] -> [.., L·step, ..])
      const k = steps[i], sp = new Array<number>(2 * (r + 1)).fill(0);
      sp[a + 1 + r + 1] = k - 1;
      const inter = g.pad(g.unsqueeze(gx, [a + 1]), sp);
      gx = g.reshape(inter, gx.shape.map((dd, j) => (j === a ? len * k : dd)));
      len = Math.min(len * k, d - b);
      if (len < (gx.shape[a] as number)) gx = g.slice(gx, [0], [len], [a]);
    }
    pads[a] = b;
    pads[a + r] = d - b - len;
  });
  return [g.pad(gx, pads)];
});

defineVjp('Pad', (g, { inputs: [x, p] }, [gy]) => {
  const pads = constInts(p, 'Pad pads'), r = x!.rank;
  const axes = [...Array(r).keys()].filter((i) => pads[i] !== 0 || pads[i + r] !== 0);
  return [g.slice(gy!, axes.map((i) => pads[i]), axes.map((i) => pads[i] + (x!.shape[i] as number)), axes)];
});

const hasRepeats = (idx: readonly number[]): boolean => new Set(idx).size !== idx.length;

/**
 * The gradient of a Gather whose constant indices repeat (im2col windows): ORT's ScatterND 'add' loses updates to
 * repeated indices when it runs on several threads, so the repeats are summed by a 0/1 selection matrix instead,
 * gx[pre, A, post] = S[A, J] @ gy[pre, J, post] with S[i, j] = 1 where index j reads i. Deterministic and exact.
 */
function gatherGradBySelection(g: Graph, x: Tensor, idx: Tensor, axis: number, gy: Tensor): Tensor {
  const n = x.shape[axis] as number, flat = constInts(idx, 'Gather indices').map((i) => (i < 0 ? i + n : i));
  if (n * flat.length > 1 << 24) throw new Error(`Gather gradient with repeated indices: selection matrix ${n}x${flat.length} too large`);
  const sel = new Float32Array(n * flat.length);
  flat.forEach((i, j) => (sel[i * flat.length + j] = 1));
  const post = numel(x.shape.slice(axis + 1));
  const rows = g.reshape(gy, [-1, flat.length, post]);
  const summed = g.matmul(g.const(x.dtype === 'double' ? Float64Array.from(sel) : sel, [n, flat.length]), rows);
  return g.reshape(summed, x.shape);
}

defineVjp('Gather', (g, { inputs: [x, idx], attrs }, [gy]) => {
  const a = attrs.axis as number, X = x!, I = idx!;
  if (I.rank === 0 && I.value) {
    // one constant index: put the slice back with zero padding
    const i = constInts(I, 'Gather index')[0];
    const pads = new Array<number>(2 * X.rank).fill(0);
    pads[a] = i;
    pads[a + X.rank] = (X.shape[a] as number) - i - 1;
    return [g.pad(g.unsqueeze(gy!, [a]), pads)];
  }
  if (I.value && hasRepeats(constInts(I, 'Gather indices'))) return [gatherGradBySelection(g, X, I, a, gy!)];
  // general: move the index dims first, flatten them, ScatterND-add into zeros of [x_axis, pre..., post...]
  // (exact for indices known only at run time as long as they do not repeat, e.g. DINOv2's masked positions)
  const ri = I.rank, pre = X.shape.slice(0, a), post = X.shape.slice(a + 1);
  const perm = [...Array(ri).keys()].map((k) => a + k);
  for (let k = 0; k < a; k++) perm.push(k);
  for (let k = a + ri; k < gy!.rank; k++) perm.push(k);
  const upd = g.reshape(g.transpose(gy!, perm), [numel(I.shape), ...pre, ...post]);
  const ind = g.reshape(g.cast(I, 'int64'), [numel(I.shape), 1]);
  const zeros = g.full([X.shape[a], ...pre, ...post], 0, X.dtype);
  const sc = g.one('ScatterND', [zeros, ind, upd], { reduction: 'add' }, zeros.shape);
  const back = [...Array(a).keys()].map((k) => k + 1);
  back.push(0);
  for (let k = a + 1; k < X.rank; k++) back.push(k);
  return [g.transpose(sc, back)];
});

defineVjp('GatherElements', (g, { inputs: [x, idx], attrs }, [gy]) => [
  g.scatterElements(g.zerosLike(x!), idx!, gy!, attrs.axis as number, 'add'),
]);

defineVjp('ScatterElements', (g, { inputs: [data, idx, upd], attrs }, [gy], need) => {
  const a = attrs.axis as number, add = attrs.reduction === 'add';
  // 'none': overwritten positions pass no gradient to data; 'add': data's gradient is gy unchanged
  const gd = need[0] && (add ? gy! : g.scatterElements(gy!, idx!, g.zerosLike(upd!), a));
  return [gd, null, need[2] && g.gatherElements(gy!, idx!, a)];
});
