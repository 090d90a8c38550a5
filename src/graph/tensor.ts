// Symbolic tensors and the nodes that produce them.

import type { Graph } from './core.js';
import type { DType, Dim, TypedArray } from './types.js';

/** An attribute value. Numbers are written as INT unless the attribute name is a float one (see serialize.ts). */
export type AttrValue = number | string | readonly number[] | readonly string[] | ConstData;

/** Constant tensor data (a Constant node's value, or an initializer's). */
export interface ConstData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

export interface GraphNode {
  readonly op: string;
  readonly name: string;
  /** null marks a skipped optional input (written as '' in ONNX). */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: Tensor[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly domain?: string;
  /** A stop-gradient node: autodiff treats its outputs as constants. */
  noGrad?: boolean;
  /** The end of a composite with its own gradient (Graph.customGrad): autodiff differentiates it as one node. */
  readonly composite?: Composite;
}

/** A composite's differentiable inputs and its gradient: (gradient of the output, which inputs need one) -> one per input. */
export interface Composite {
  readonly inputs: readonly Tensor[];
  readonly vjp: (gy: Tensor, need: readonly boolean[]) => readonly (Tensor | null | undefined | false)[];
}

export type TensorKind = 'node' | 'input' | 'param' | 'initializer';

export class Tensor {
  readonly id: number;

  constructor(
    readonly graph: Graph,
    /** the ONNX value name */
    readonly name: string,
    readonly shape: readonly Dim[],
    readonly dtype: DType,
    readonly kind: TensorKind,
    readonly node: GraphNode | null = null,
    /** the values, when known at build time (constants and initializers) */
    readonly value?: ConstData,
  ) {
    this.id = graph.nextTensorId();
  }

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}[${this.shape.join(',')}]:${this.dtype}`;
  }
}

export const isTensor = (v: unknown): v is Tensor => v instanceof Tensor;
