// Reductions (opset 18: axes are an input), softmax/log-softmax, arg-max, and their gradient rules.

import { Graph } from '../core.js';
import { normAxis } from '../dims.js';
import type { GraphNode, Tensor } from '../tensor.js';
import type { Dim } from '../types.js';
import { defineNonDifferentiable, defineVjp } from '../vjp.js';
import { constInts } from './shape-ops.js';

declare module '../core.js' {
  interface Graph {
    /** axes undefined: all axes; axes []: x itself. keepdims defaults to true */
    reduce(op: string, x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceSum(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceMean(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceMax(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceMin(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    /** sqrt(sum(x²)) */
    reduceL2(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceSumSquare(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    reduceLogSumExp(x: Tensor, axes?: readonly number[], keepdims?: boolean): Tensor;
    softmax(x: Tensor, axis?: number): Tensor;
    logSoftmax(x: Tensor, axis?: number): Tensor;
    /** int64 indices of the maximum (first one on ties); no gradient */
    argMax(x: Tensor, axis: number, keepdims?: boolean): Tensor;
    argMin(x: Tensor, axis: number, keepdims?: boolean): Tensor;
  }
}

const P = Graph.prototype;

P.reduce = function (op, x, axes, keepdims = true) {
  const ax = (axes ?? [...Array(x.rank).keys()]).map((a) => normAxis(a, x.rank));
  if (ax.length === 0) return x;
  const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
  return this.one(op, [x, this.i64(ax)], { keepdims: keepdims ? 1 : 0 }, shape);
};
P.reduceSum = function (x, axes, keepdims) { return this.reduce('ReduceSum', x, axes, keepdims); };
P.reduceMean = function (x, axes, keepdims) { return this.reduce('ReduceMean', x, axes, keepdims); };
P.reduceMax = function (x, axes, keepdims) { return this.reduce('ReduceMax', x, axes, keepdims); };
P.reduceMin = function (x, axes, keepdims) { return this.reduce('ReduceMin', x, axes, keepdims); };
P.reduceL2 = function (x, axes, keepdims) { return this.reduce('ReduceL2', x, axes, keepdims); };
P.reduceSumSquare = function (x, axes, keepdims) { return this.reduce('ReduceSumSquare', x, axes, keepdims); };
P.reduceLogSumExp = function (x, axes, keepdims) { return this.reduce('ReduceLogSumExp', x, axes, keepdims); };
P.softmax = function (x, axis = -1) { return this.one('Softmax', [x], { axis: normAxis(axis, x.rank) }, x.shape); };
P.logSoftmax = function (x, axis = -1) { return this.one('LogSoftmax', [x], { axis: normAxis(axis, x.rank) }, x.shape); };
function arg(g: Graph, op: string, x: Tensor, axis: number, keepdims: boolean): Tensor {
  const a = normAxis(axis, x.rank);
  const shape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return g.one(op, [x], { axis: a, keepdims: keepdims ? 1 : 0 }, shape, 'int64');
}
P.argMax = function (x, axis, keepdims = false) { return arg(this, 'ArgMax', x, axis, keepdims); };
P.argMin = function (x, axis, keepdims = false) { return arg(this, 'ArgMin', x, axis, keepdims); };

defineNonDifferentiable('ArgMax', 'ArgMin');

// ---------------------------------------------------------------- gradient rules

/** The reduced axes of a reduce node, and its output gradient / output reshaped to keepdims form. */
function reduced(g: Graph, n: GraphNode, gy: Tensor): { axes: number[]; gk: Tensor; yk: Tensor; count: Dim } {
  const x = n.inputs[0]!, axes = constInts(n.inputs[1], `${n.op} axes`);
  const keep = n.attrs.keepdims === 1;
  const gk = keep ? gy : g.unsqueeze(gy, axes), yk = keep ? n.outputs[0] : g.unsqueeze(n.outputs[0], axes);
  return { axes, gk, yk, count: Graph.dimProduct(axes.map((a) => x.shape[a])) };
}
const expandTo = (g: Graph, t: Tensor, x: Tensor): Tensor =>
  g.one('Expand', [t, g.shapeTensor(x.shape, x)], null, x.shape);

defineVjp('ReduceSum', (g, n, [gy]) => [expandTo(g, reduced(g, n, gy!).gk, n.inputs[0]!)]);
defineVjp('ReduceMean', (g, n, [gy]) => {
  const { gk, count } = reduced(g, n, gy!);
  return [expandTo(g, g.div(gk, g.dimScalar(count, gy!.dtype)), n.inputs[0]!)];
});
// max/min: the gradient is shared evenly between tied extrema (as torch.amax/amin)
const extremum = ((g, n, [gy]) => {
  const x = n.inputs[0]!, { axes, gk, yk } = reduced(g, n, gy!);
  const mask = g.cast(g.equal(x, yk), x.dtype);
  return [g.mul(mask, g.div(gk, g.reduceSum(mask, axes, true)))];
}) satisfies Parameters<typeof defineVjp>[1];
defineVjp('ReduceMax', extremum);
defineVjp('ReduceMin', extremum);
defineVjp('ReduceL2', (g, n, [gy]) => {
  const { gk, yk } = reduced(g, n, gy!);
  return [g.mul(n.inputs[0]!, g.div(gk, yk))];
});
defineVjp('ReduceSumSquare', (g, n, [gy]) => [g.mul(n.inputs[0]!, g.mul(reduced(g, n, gy!).gk, 2))]);
defineVjp('ReduceLogSumExp', (g, n, [gy]) => {
  const { gk, yk } = reduced(g, n, gy!);
  return [g.mul(gk, g.exp(g.sub(n.inputs[0]!, yk)))];
});
defineVjp('Softmax', (g, { attrs, outputs: [y] }, [gy]) => {
  const gyy = g.mul(gy!, y);
  return [g.sub(gyy, g.mul(y, g.reduceSum(gyy, [attrs.axis as number], true)))];
});
defineVjp('LogSoftmax', (g, { attrs, outputs: [y] }, [gy]) => [
  g.sub(gy!, g.mul(g.exp(y), g.reduceSum(gy!, [attrs.axis as number], true))),
]);
