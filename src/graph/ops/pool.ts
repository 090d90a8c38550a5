// Pooling: MaxPool (gradient scattered through its Indices output), AveragePool (gradient as a depthwise
// ConvTranspose with a constant kernel), GlobalAveragePool.

import { Graph } from '../core.js';
import { fmtShape, isStatic, isStaticShape, numel } from '../dims.js';
import type { Tensor } from '../tensor.js';
import { defineVjp } from '../vjp.js';
import { windows } from './conv.js';

export interface PoolOptions {
  kernel: readonly number[];
  /** default: the kernel size */
  strides?: readonly number[];
  /** [begin_0.., end_0..] per spatial axis */
  pads?: readonly number[];
  /** AveragePool only: count padded zeros in the mean (torch default true) */
  countIncludePad?: boolean;
}

declare module '../core.js' {
  interface Graph {
    /** MaxPool; the node also outputs the flat argmax Indices its gradient uses */
    maxPool(x: Tensor, opts: PoolOptions): Tensor;
    averagePool(x: Tensor, opts: PoolOptions): Tensor;
    /** mean over the spatial axes, keeping them as size 1: [N, C, 1, 1] */
    globalAveragePool(x: Tensor): Tensor;
  }
}

function poolShape(x: Tensor, k: readonly number[], s: readonly number[], p: readonly number[]): number[] {
  const sp = k.length;
  if (x.rank !== sp + 2 || !isStaticShape(x.shape.slice(2))) throw new Error(`pool: bad input ${fmtShape(x.shape)} for kernel ${k}`);
  return (x.shape.slice(2) as number[]).map((n, i) => Math.floor((n + p[i] + p[i + sp] - k[i]) / s[i]) + 1);
}

const P = Graph.prototype;

P.maxPool = function (x, { kernel, strides, pads }) {
  const s = strides ?? kernel, p = pads ?? [...kernel, ...kernel].map(() => 0);
  const shape = [x.shape[0], x.shape[1], ...poolShape(x, kernel, s, p)];
  return this.node('MaxPool', [x], { kernel_shape: [...kernel], strides: [...s], pads: [...p] }, [
    [shape, x.dtype],
    [shape, 'int64'],
  ])[0];
};

P.averagePool = function (x, { kernel, strides, pads, countIncludePad = true }) {
  const s = strides ?? kernel, p = pads ?? [...kernel, ...kernel].map(() => 0);
  const shape = [x.shape[0], x.shape[1], ...poolShape(x, kernel, s, p)];
  if (this.decompose) {
    if (!countIncludePad && p.some((v) => v !== 0)) throw new Error('decomposed averagePool needs countIncludePad with padding');
    return this.reduceMean(windows(this, x, kernel, s, p, kernel.map(() => 1)), [2], false);
  }
  return this.one('AveragePool', [x], { kernel_shape: [...kernel], strides: [...s], pads: [...p], count_include_pad: countIncludePad ? 1 : 0 }, shape);
};

P.globalAveragePool = function (x) {
  const axes = [...Array(x.rank - 2).keys()].map((i) => i + 2);
  if (this.decompose) return this.reduceMean(x, axes, true);
  return this.one('GlobalAveragePool', [x], null, x.shape.map((d, i) => (i < 2 ? d : 1)));
};

// ---------------------------------------------------------------- gradient rules

// Indices are flat offsets into the whole input (batch and channels included): scatter-add the gradient there.
defineVjp('MaxPool', (g, { inputs: [x], outputs: [, idx] }, [gy]) => {
  const X = x!, n = numel(X.shape);
  const zeros = g.full([n], 0, X.dtype);
  const flat = g.scatterElements(zeros, g.reshape(idx, [numel(idx.shape)]), g.reshape(gy!, [numel(gy!.shape)]), 0, 'add');
  return [g.reshape(flat, X.shape)];
});

defineVjp('AveragePool', (g, { inputs: [x], attrs }, [gy]) => {
  const X = x!, G = gy!, k = attrs.kernel_shape as number[], s = attrs.strides as number[], p = attrs.pads as number[];
  if (attrs.count_include_pad !== 1 && p.some((v) => v !== 0)) throw new Error('AveragePool gradient needs count_include_pad with padding');
  const C = X.shape[1];
  if (!isStatic(C)) throw new Error('AveragePool gradient needs a static channel count');
  const kn = k.reduce((a, b) => a * b, 1), sp = k.length;
  const w = g.const(new Array(C * kn).fill(1 / kn), [C, 1, ...k], X.dtype);
  const outPad = (X.shape.slice(2) as number[]).map((n, i) => n - ((G.shape[i + 2] as number) - 1) * s[i] + p[i] + p[i + sp] - k[i]);
  return [g.convTranspose(G, w, null, { strides: s, pads: p, group: C, outputPadding: outPad })];
});

defineVjp('GlobalAveragePool', (g, { inputs: [x] }, [gy]) => {
  const X = x!, hw = Graph.dimProduct(X.shape.slice(2));
  return [g.one('Expand', [g.div(gy!, g.dimScalar(hw, X.dtype)), g.shapeTensor(X.shape, X)], null, X.shape)];
});
