// Named parameters held in one flat Float32Array: each parameter is a subarray view, so optimizers, EMA and clipping
// run as single loops over the flat buffer while ORT sees one tensor per parameter (views, no copies).
import { UserError } from '../util/errors.js';
import { numel } from '../util/shape.js';
import type { SimdArena } from './simd.js';

/** A tensor the optimizer updates: its name and shape, and how the optimizer treats it. */
export interface TrainableTensor {
  /** PyTorch/timm name, e.g. 'blocks.0.attn.qkv.weight'. */
  name: string;
  shape: readonly number[];
  /** false for biases, norms, position embeddings and tokens (no weight decay, no LARS adaptation). */
  weightDecay: boolean;
  /** Multiplies the learning rate of this parameter (layer-wise decay, patch-embed x0.2); default 1. */
  lrScale?: number;
}

/** Floats a flat buffer of these tensors takes. */
export function numelOfAll(tensors: readonly { shape: readonly number[] }[]): number {
  return tensors.reduce((n, s) => n + numel(s.shape), 0);
}

/** Where each named tensor sits in a flat buffer. Shared by parameters, gradients and optimizer moments. */
export class FlatLayout {
  readonly names: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  /** Number of floats in the flat buffer. */
  readonly total: number;
  private readonly index: ReadonlyMap<string, number>;

  constructor(entries: readonly { name: string; shape: readonly number[] }[]) {
    const index = new Map<string, number>();
    const offsets: number[] = [];
    const sizes: number[] = [];
    let offset = 0;
    entries.forEach((e, i) => {
      if (index.has(e.name)) throw new Error(`duplicate parameter name '${e.name}'`);
      for (const d of e.shape) {
        if (!Number.isInteger(d) || d < 0) throw new Error(`parameter '${e.name}' has invalid shape [${e.shape}]`);
      }
      index.set(e.name, i);
      offsets.push(offset);
      sizes.push(numel(e.shape));
      offset += sizes[i];
    });
    this.names = entries.map((e) => e.name);
    this.shapes = entries.map((e) => [...e.shape]);
    this.offsets = offsets;
    this.sizes = sizes;
    this.total = offset;
    this.index = index;
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  indexOf(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`unknown parameter '${name}'`);
    return i;
  }

  /** One subarray view per tensor, in layout order. */
  viewsOf(flat: Float32Array): Float32Array[] {
    if (flat.length !== this.total) throw new Error(`flat buffer has ${flat.length} floats, layout needs ${this.total}`);
    return this.offsets.map((o, i) => flat.subarray(o, o + this.sizes[i]));
  }
}

/** Named tensors read from a file (a parsed safetensors map fits): dtype, when given, must be F32 or F64. */
export type TensorSource = ReadonlyMap<
  string,
  { shape: readonly number[]; data: ArrayLike<number> | BigInt64Array | BigUint64Array; dtype?: string }
>;

/** A flat Float32Array laid out by a FlatLayout, with a view per tensor (parameters, gradients, moments). */
export class FlatTensors {
  readonly flat: Float32Array;
  readonly views: readonly Float32Array[];

  constructor(
    readonly layout: FlatLayout,
    flat?: Float32Array,
  ) {
    this.flat = flat ?? new Float32Array(layout.total);
    this.views = layout.viewsOf(this.flat);
  }

  get names(): readonly string[] {
    return this.layout.names;
  }

  get shapes(): readonly (readonly number[])[] {
    return this.layout.shapes;
  }

  get(name: string): Float32Array {
    return this.views[this.layout.indexOf(name)];
  }

  /** Copies one tensor (e.g. a gradient ORT returned) into its place in the flat buffer. */
  set(name: string, data: ArrayLike<number>): void {
    const view = this.get(name);
    if (data.length !== view.length) {
      throw new Error(`'${name}' expects ${view.length} values, got ${data.length}`);
    }
    view.set(data);
  }

  zero(): void {
    this.flat.fill(0);
  }

  /** Name -> view map, optionally with a name prefix (e.g. 'student.') for checkpoints and exports. */
  toMap(prefix = ''): Map<string, { shape: readonly number[]; data: Float32Array }> {
    const map = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    this.layout.names.forEach((n, i) => map.set(prefix + n, { shape: this.layout.shapes[i], data: this.views[i] }));
    return map;
  }

  /**
   * Fills every tensor from `source[prefix + name]` (a checkpoint or weight file). All must be present, floating
   * point, with the same shape; the error names every problem. Extra entries in `source` are ignored.
   */
  loadFrom(source: TensorSource, prefix = '', what = 'checkpoint'): void {
    const problems: string[] = [];
    this.layout.names.forEach((n, i) => {
      const t = source.get(prefix + n);
      const want = this.layout.shapes[i];
      if (!t) problems.push(`missing '${prefix + n}'`);
      else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array || (t.dtype !== undefined && t.dtype !== 'F32' && t.dtype !== 'F64')) {
        problems.push(`'${prefix + n}' has dtype ${t.dtype ?? 'int64'}, expected F32`);
      } else if (t.shape.length !== want.length || t.shape.some((d, k) => d !== want[k])) {
        problems.push(`'${prefix + n}' has shape [${t.shape}], expected [${want}]`);
      } else if (t.data.length !== this.layout.sizes[i]) {
        problems.push(`'${prefix + n}' has ${t.data.length} values, expected ${this.layout.sizes[i]}`);
      }
    });
    if (problems.length > 0) {
      const shown = problems.slice(0, 10).join('; ');
      const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
      throw new UserError(`${what} does not match the model: ${shown}${more}`);
    }
    this.layout.names.forEach((n, i) => this.views[i].set(source.get(prefix + n)!.data as ArrayLike<number>));
  }
}

/** The trainable parameters: values, plus what the optimizer needs per tensor (decay mask, lr scale). */
export class ParamStore extends FlatTensors {
  readonly specs: readonly TrainableTensor[];

  /**
   * @param init initial values by name; each must have the parameter's size. Parameters not in the map start at 0
   *   (biases); names in the map that are not parameters are a programming error.
   */
  constructor(
    specs: readonly TrainableTensor[],
    init?: ReadonlyMap<string, ArrayLike<number>>,
    flat?: Float32Array,
    /** where this store, its clones, its gradients and its optimizer's state are allocated (when there is room) */
    readonly arena: SimdArena | null = null,
  ) {
    super(new FlatLayout(specs), flat ?? arena?.alloc(numelOfAll(specs)) ?? undefined);
    this.specs = specs.map((s) => ({ ...s, shape: [...s.shape], lrScale: s.lrScale ?? 1 }));
    for (const s of this.specs) {
      if (!(s.lrScale! >= 0) || !Number.isFinite(s.lrScale!)) throw new Error(`parameter '${s.name}' has invalid lrScale ${s.lrScale}`);
    }
    if (init) {
      for (const [name, data] of init) {
        if (!this.layout.has(name)) throw new Error(`initial value for unknown parameter '${name}'`);
        this.set(name, data);
      }
    }
  }

  get size(): number {
    return this.layout.total;
  }

  /** A zeroed buffer with the same layout, for gradients (ORT outputs can be views into it). */
  createGradients(): FlatTensors {
    return new FlatTensors(this.layout, this.allocLike());
  }

  /** An independent copy (same specs and layout): the EMA teacher starts as a clone of the student. */
  clone(): ParamStore {
    const flat = this.allocLike();
    flat.set(this.flat);
    return new ParamStore(this.specs, undefined, flat, this.arena);
  }

  /** A zeroed buffer of this store's size, in its arena when there is room. */
  allocLike(): Float32Array {
    return this.arena?.alloc(this.layout.total) ?? new Float32Array(this.layout.total);
  }
}

/** Optimizer state as named tensors for optimizer.safetensors, plus string metadata (optimizer name, betas...). */
export interface OptimizerState {
  tensors: Map<string, { shape: readonly number[]; data: Float32Array | BigInt64Array }>;
  metadata: Record<string, string>;
}

/** What an optimizer needs from a loaded optimizer.safetensors (a parsed file fits this shape). */
export interface OptimizerStateSource {
  tensors: TensorSource;
  metadata: Readonly<Record<string, string>>;
}

export interface Optimizer {
  readonly kind: 'adamw' | 'sgd' | 'lars';
  /** Base learning rate for the next step (set it from the schedule each step); scaled per parameter by lrScale. */
  lr: number;
  weightDecay: number;
  /**
   * One optimizer step over the flat gradient buffer (same layout as the parameters). Allocates nothing. The
   * gradients count as gradScale·grads (global-norm clipping folded into the update; the buffer is not modified).
   */
  step(grads: Float32Array, gradScale?: number): void;
  /** A frozen parameter is skipped entirely, as a parameter whose grad is None in PyTorch (DINO's last layer). */
  setFrozen(name: string, frozen: boolean): void;
  exportState(): OptimizerState;
  importState(state: OptimizerStateSource): void;
}

/** Per-parameter step counts as one-element I64 tensors 'step.<name>' (PyTorch keeps a step per parameter). */
export function stepCountsToTensors(layout: FlatLayout, steps: Float64Array, into: OptimizerState['tensors']): void {
  layout.names.forEach((n, i) => into.set(`step.${n}`, { shape: [], data: BigInt64Array.of(BigInt(steps[i])) }));
}

export function stepCountsFromTensors(layout: FlatLayout, source: OptimizerStateSource['tensors'], steps: Float64Array): void {
  const missing: string[] = [];
  layout.names.forEach((n, i) => {
    const t = source.get(`step.${n}`);
    if (!t || t.data.length !== 1) missing.push(`step.${n}`);
    else steps[i] = Number(t.data[0]);
  });
  if (missing.length > 0) {
    throw new UserError(`optimizer state has no step count for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (and ${missing.length - 5} more)` : ''}`);
  }
}

/** Checks that an optimizer.safetensors was written by the same optimizer kind. */
export function checkOptimizerKind(state: OptimizerStateSource, kind: string): void {
  const saved = state.metadata['optimizer'];
  if (saved !== kind) {
    throw new UserError(`optimizer state was written by '${saved ?? 'unknown'}', but this run uses '${kind}'`);
  }
}
