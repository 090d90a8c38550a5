// The graph builder's core: inputs, parameters, constants, nodes and runtime shape tensors. The ops are added to
// Graph's prototype by the files in ops/ (each op's forward and shape rule sits next to its gradient rule);
// import Graph from './graph.js' or './index.js' to get them all.

import { canon, dimMul, factors, fmtShape, isStatic, isStaticShape, numel, shapeEq } from './dims.js';
import { Tensor, type AttrValue, type Composite, type ConstData, type GraphNode } from './tensor.js';
import { toTypedArray, type ConstValues, type DType, type Dim, type Shape } from './types.js';

/** Parameter values for a graph whose parameters are initializers (export, teacher, embed). */
export type ParamValues =
  | ReadonlyMap<string, Float32Array | Float64Array>
  | ((name: string, shape: readonly number[]) => Float32Array | Float64Array | undefined);

export interface GraphOptions {
  /** element type of float tensors, parameters and inputs: 'float' (default) or 'double' (finite-difference tests) */
  dtype?: 'float' | 'double';
  /** write ops that ORT's CPU build lacks in float64 (Erf, LayerNormalization) as plain ops; default: dtype === 'double' */
  decompose?: boolean;
  /** when given, param() makes initializers holding these values instead of graph inputs */
  paramValues?: ParamValues;
  /** graph name written to the model */
  name?: string;
  /** constants with more elements than this become initializers instead of Constant nodes (default 64) */
  maxInlineConst?: number;
  /**
   * use ONNX Runtime's com.microsoft kernels where they beat plain ops (gelu -> one fused Gelu node with its own
   * gradient rule); such a graph runs only in ONNX Runtime. Default: on for float32 graphs whose parameters are
   * inputs (training and teacher graphs), off for exports (parameters as initializers) and decompose mode.
   */
  contribOps?: boolean;
  /**
   * run 2-D convs as image columns + one Gemm where ONNX Runtime's Conv is slow (small maps, weight gradients; see
   * ops/conv-gemm.ts). Default: on where contribOps defaults on (training graphs); exports keep plain Conv nodes.
   */
  convGemm?: boolean;
}

export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly tensor: Tensor;
}

const DEFAULT_MAX_INLINE = 64;

export class Graph {
  readonly dtype: 'float' | 'double';
  readonly decompose: boolean;
  readonly contribOps: boolean;
  readonly convGemm: boolean;
  readonly name: string;
  readonly nodes: GraphNode[] = [];
  /** graph inputs in declaration order (data inputs and, in training mode, parameters) */
  readonly inputs: Tensor[] = [];
  readonly params: ParamInfo[] = [];
  /** initializer tensors with their data (parameters in export mode, big constants) */
  readonly initializers: { tensor: Tensor; data: ConstData }[] = [];
  private readonly paramValues?: ParamValues;
  private readonly maxInlineConst: number;
  private nTensors = 0;
  private nNodes = 0;
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, Tensor>();
  private readonly dimSources = new Map<string, { tensor: Tensor; axis: number }>();
  private readonly dimCache = new Map<string, Tensor>();
  private readonly shapeCache = new Map<number, Tensor>();

  constructor(opts: GraphOptions = {}) {
    this.dtype = opts.dtype ?? 'float';
    this.decompose = opts.decompose ?? this.dtype === 'double';
    this.name = opts.name ?? 'dinotrain';
    this.paramValues = opts.paramValues;
    this.maxInlineConst = opts.maxInlineConst ?? DEFAULT_MAX_INLINE;
    this.contribOps = opts.contribOps ?? (this.dtype === 'float' && !this.decompose && !this.paramValues);
    this.convGemm = opts.convGemm ?? (this.dtype === 'float' && !this.decompose && !this.paramValues);
  }

  /** @internal */
  nextTensorId(): number {
    return this.nTensors++;
  }

  /** true when param() makes initializers (export mode) */
  get paramsAreInitializers(): boolean {
    return this.paramValues !== undefined;
  }

  private claimName(name: string): void {
    if (this.names.has(name)) throw new Error(`graph value name '${name}' is used twice`);
    this.names.add(name);
  }

  // ---------------------------------------------------------------- inputs, parameters, constants

  /** A graph input. Symbolic dims (strings) become ONNX dim_params and can be read back at run time. */
  input(name: string, shape: Shape, dtype: DType = this.dtype): Tensor {
    this.claimName(name);
    const t = new Tensor(this, name, shape.map(canon), dtype, 'input');
    this.inputs.push(t);
    this.registerDims(t);
    return t;
  }

  /**
   * A trainable parameter: a graph input named `name` (training graphs), or an initializer holding the value
   * from `paramValues` (export graphs). Parameter shapes are static.
   */
  param(name: string, shape: readonly number[]): Tensor {
    if (!isStaticShape(shape)) throw new Error(`parameter ${name} needs a static shape, got ${fmtShape(shape)}`);
    this.claimName(name);
    let t: Tensor;
    if (this.paramValues) {
      const v = typeof this.paramValues === 'function' ? this.paramValues(name, shape) : this.paramValues.get(name);
      if (!v) throw new Error(`no value for parameter ${name}`);
      const n = numel(shape) as number;
      if (v.length !== n) throw new Error(`parameter ${name}: ${v.length} values for shape ${fmtShape(shape)}`);
      const data: ConstData = { dtype: this.dtype, shape: [...shape], data: toTypedArray(v, this.dtype) };
      t = new Tensor(this, name, [...shape], this.dtype, 'param', null, data);
      this.initializers.push({ tensor: t, data });
    } else {
      t = new Tensor(this, name, [...shape], this.dtype, 'param');
      this.inputs.push(t);
    }
    this.params.push({ name, shape: [...shape], tensor: t });
    return t;
  }

  /** A named initializer (e.g. a big constant matrix). Its values are known to the builder. */
  initializer(name: string, values: ConstValues, shape: readonly number[], dtype: DType = this.dtype): Tensor {
    this.claimName(name);
    const data: ConstData = { dtype, shape: [...shape], data: toTypedArray(values, dtype) };
    if (data.data.length !== (numel(shape) as number)) throw new Error(`initializer ${name}: ${data.data.length} values for ${fmtShape(shape)}`);
    const t = new Tensor(this, name, [...shape], dtype, 'initializer', null, data);
    this.initializers.push({ tensor: t, data });
    return t;
  }

  /**
   * A constant: a Constant node when small, an initializer when it has more than maxInlineConst elements.
   * Small constants are shared (same values, shape and type -> same tensor).
   */
  const(values: ConstValues, shape: readonly number[] = [], dtype: DType = this.dtype): Tensor {
    const data = toTypedArray(values, dtype);
    const n = numel(shape) as number;
    if (data.length !== n) throw new Error(`constant of shape ${fmtShape(shape)} needs ${n} values, got ${data.length}`);
    if (n > this.maxInlineConst) return this.initializer(`const_${this.nTensors}`, data, shape, dtype);
    const key = `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const value: ConstData = { dtype, shape: [...shape], data };
    const t = this.node('Constant', [], { value }, [[shape, dtype]], { value })[0];
    this.constCache.set(key, t);
    return t;
  }

  /** A scalar constant of the graph's float type (or `dtype`). */
  scalar(v: number, dtype: DType = this.dtype): Tensor {
    return this.const(v, [], dtype);
  }

  /** A 1-D int64 constant. */
  i64(values: readonly (number | bigint)[] | BigInt64Array): Tensor {
    return this.const(values as ConstValues, [values.length], 'int64');
  }

  /** A tensor, or a number lifted to a scalar constant of `like`'s type (default: the graph's float type). */
  lift(v: Tensor | number, like?: Tensor | DType): Tensor {
    if (v instanceof Tensor) return v;
    const dtype = like === undefined ? this.dtype : typeof like === 'string' ? like : like.dtype;
    return this.const(v, [], dtype);
  }

  // ---------------------------------------------------------------- nodes

  /**
   * Appends a node; `outs` gives each output's [shape, dtype]. Returns the output tensors. Ops are built on this.
   * `value` marks the single output as a known constant (used by Constant).
   */
  node(
    op: string,
    inputs: readonly (Tensor | null)[],
    attrs: Record<string, AttrValue> | null,
    outs: readonly (readonly [Shape, DType])[],
    extra: { value?: ConstData; noGrad?: boolean; domain?: string; composite?: Composite } = {},
  ): Tensor[] {
    for (const t of inputs) if (t && t.graph !== this) throw new Error(`${op}: input ${t.name} belongs to another graph`);
    const name = `${op}_${this.nNodes++}`;
    const outputs: Tensor[] = [];
    const node: GraphNode = { op, name, inputs: [...inputs], outputs, attrs: attrs ?? {}, domain: extra.domain, noGrad: extra.noGrad, composite: extra.composite };
    outs.forEach(([shape, dtype], k) => outputs.push(new Tensor(this, `${name}:${k}`, shape.map(canon), dtype, 'node', node, extra.value)));
    this.nodes.push(node);
    return outputs;
  }

  /**
   * A composite with its own gradient rule: the nodes `build` adds are constants to autodiff, and the returned tensor
   * (through an Identity, which ORT removes) is differentiated by `vjp` with respect to `inputs`. For fused gradient
   * formulas (BatchNorm) that are cheaper than differentiating the forward's ops one by one.
   */
  customGrad(inputs: readonly Tensor[], build: () => Tensor, vjp: Composite['vjp']): Tensor {
    const start = this.nodes.length;
    const y = build();
    for (let i = start; i < this.nodes.length; i++) this.nodes[i].noGrad = true;
    return this.node('Identity', [y], null, [[y.shape, y.dtype]], { composite: { inputs: [...inputs], vjp } })[0];
  }

  /** A node with one output; dtype defaults to the first input's. */
  one(op: string, inputs: readonly (Tensor | null)[], attrs: Record<string, AttrValue> | null, shape: Shape, dtype?: DType): Tensor {
    return this.node(op, inputs, attrs, [[shape, dtype ?? inputs[0]?.dtype ?? this.dtype]])[0];
  }

  // ---------------------------------------------------------------- runtime shapes (symbolic dims)

  private registerDims(t: Tensor): void {
    t.shape.forEach((d, axis) => {
      if (typeof d === 'string' && !d.includes('*') && !this.dimSources.has(d)) this.dimSources.set(d, { tensor: t, axis });
    });
  }

  /** Shape(x) as a 1-D int64 tensor (cached per tensor). */
  shapeOf(x: Tensor): Tensor {
    let s = this.shapeCache.get(x.id);
    if (!s) {
      s = this.one('Shape', [x], null, [x.rank], 'int64');
      this.shapeCache.set(x.id, s);
    }
    return s;
  }

  /** A dim's value at run time as a 1-D int64 tensor of length 1. Symbolic names are read from a graph input's shape. */
  dimTensor(d: Dim): Tensor {
    if (isStatic(d)) return this.i64([d]);
    const key = canon(d) as string;
    const hit = this.dimCache.get(key);
    if (hit) return hit;
    const { coef, syms } = factors(d);
    let t: Tensor | null = null;
    for (const s of syms) {
      const src = this.dimSources.get(s);
      if (!src) throw new Error(`symbolic dim '${s}' has no graph input to read it from`);
      const v = this.one('Shape', [src.tensor], { start: src.axis, end: src.axis + 1 }, [1], 'int64');
      t = t ? this.one('Mul', [t, v], null, [1], 'int64') : v;
    }
    if (coef !== 1) t = this.one('Mul', [t!, this.i64([coef])], null, [1], 'int64');
    this.dimCache.set(key, t!);
    return t!;
  }

  /** A dim's value as a scalar of a float type (e.g. the count a mean divides by). */
  dimScalar(d: Dim, dtype: DType = this.dtype): Tensor {
    if (isStatic(d)) return this.scalar(d, dtype);
    const v = this.one('Cast', [this.dimTensor(d)], { to: dtype === 'double' ? 11 : 1 }, [1], dtype);
    return this.one('Reshape', [v, this.const([], [0], 'int64')], null, [], dtype);
  }

  /**
   * A 1-D int64 tensor holding `shape` at run time: a constant when static, Shape(like) when `like` has exactly
   * this shape, otherwise a Concat of constants and dims read from the graph inputs.
   */
  shapeTensor(shape: Shape, like?: Tensor): Tensor {
    if (isStaticShape(shape)) return this.i64(shape);
    if (like && shapeEq(like.shape, shape)) return this.shapeOf(like);
    const parts: Tensor[] = [];
    let run: number[] = [];
    for (const d of shape) {
      if (isStatic(d)) run.push(d);
      else {
        if (run.length) parts.push(this.i64(run));
        run = [];
        parts.push(this.dimTensor(d));
      }
    }
    if (run.length) parts.push(this.i64(run));
    return parts.length === 1 ? parts[0] : this.one('Concat', parts, { axis: 0 }, [shape.length], 'int64');
  }

  /** The product of several dims (a monomial) */
  static dimProduct(dims: readonly Dim[]): Dim {
    return dims.reduce<Dim>((a, d) => dimMul(a, d), 1);
  }
}

