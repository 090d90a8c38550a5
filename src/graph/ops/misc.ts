// Index helpers without gradients (Range, eye masks, one-hot) and TopK (gradient scattered through its indices).

import { Graph } from '../core.js';
import { normAxis } from '../dims.js';
import type { Tensor } from '../tensor.js';
import type { DType, Dim } from '../types.js';
import { defineNonDifferentiable, defineVjp } from '../vjp.js';

declare module '../core.js' {
  interface Graph {
    /** int64 [0, 1, ..., n-1]; n may be symbolic */
    range(n: Dim): Tensor;
    /** bool [n, n] identity mask (true on the diagonal); n may be symbolic */
    eyeMask(n: Dim): Tensor;
    /** [n, n] identity of a float type */
    eye(n: Dim, dtype?: DType): Tensor;
    /** one-hot along a new last axis: indices [...] (int64) -> [..., depth] of dtype */
    oneHot(indices: Tensor, depth: number, dtype?: DType): Tensor;
    /** the k largest (or smallest) values along axis, with their int64 indices */
    topK(x: Tensor, k: number, axis?: number, largest?: boolean): { values: Tensor; indices: Tensor };
  }
}

const P = Graph.prototype;

P.range = function (n) {
  const limit = this.one('Reshape', [this.dimTensor(n), this.const([], [0], 'int64')], null, [], 'int64');
  return this.one('Range', [this.const(0, [], 'int64'), limit, this.const(1, [], 'int64')], null, [n], 'int64');
};
P.eyeMask = function (n) {
  const r = this.range(n);
  return this.equal(this.unsqueeze(r, [1]), this.unsqueeze(r, [0]));
};
P.eye = function (this: Graph, n: Dim, dtype: DType = this.dtype) {
  return this.cast(this.eyeMask(n), dtype);
};
P.oneHot = function (this: Graph, indices: Tensor, depth: number, dtype: DType = this.dtype) {
  return this.cast(this.equal(this.unsqueeze(indices, [-1]), this.range(depth)), dtype);
};
P.topK = function (x, k, axis = -1, largest = true) {
  const a = normAxis(axis, x.rank);
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const [values, indices] = this.node('TopK', [x, this.i64([k])], { axis: a, largest: largest ? 1 : 0, sorted: 1 }, [
    [shape, x.dtype],
    [shape, 'int64'],
  ]);
  return { values, indices };
};

defineNonDifferentiable('Range');
defineVjp('TopK', (g, { inputs: [x], outputs: [, idx], attrs }, [gv]) => [
  gv ? g.scatterElements(g.zerosLike(x!), idx, gv, attrs.axis as number, 'add') : null,
]);
