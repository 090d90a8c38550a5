// The Graph class with every op family loaded. Import Graph from here (or index.ts), not from core.ts.
import './ops/elementwise.js';
import './ops/shape-ops.js';
import './ops/reduce.js';
import './ops/matmul.js';
import './ops/norm.js';
import './ops/conv.js';
import './ops/pool.js';
import './ops/misc.js';
import { grad as gradImpl, type GradOptions } from './autodiff.js';
import { Graph } from './core.js';
import { toBytes, toModelProto, type BuiltModel, type ModelOptions } from './serialize.js';
import type { Tensor } from './tensor.js';

declare module './core.js' {
  interface Graph {
    /** reverse-mode gradients of loss (summed) w.r.t. each tensor of wrt, in order; appended as nodes */
    grad(loss: Tensor, wrt: readonly Tensor[], opts?: GradOptions): Tensor[];
    /** serialise with `outputs` (graph output name -> tensor) */
    toModel(outputs: Record<string, Tensor>, opts?: ModelOptions): BuiltModel;
    /** the serialised bytes only */
    toBytes(outputs: Record<string, Tensor>, opts?: ModelOptions): Uint8Array;
    toModelProto(outputs: Record<string, Tensor>, opts?: ModelOptions): ReturnType<typeof toModelProto>['model'];
  }
}

Graph.prototype.grad = function (loss, wrt, opts) {
  return gradImpl(this, loss, wrt, opts);
};
Graph.prototype.toModel = function (outputs, opts) {
  return toBytes(this, outputs, opts);
};
Graph.prototype.toBytes = function (outputs, opts) {
  return toBytes(this, outputs, opts).bytes;
};
Graph.prototype.toModelProto = function (outputs, opts) {
  return toModelProto(this, outputs, opts).model;
};

export { Graph };
