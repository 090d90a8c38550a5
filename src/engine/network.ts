// A network's values outside the graph: the trainable parameters (one flat ParamStore the optimizer updates) and
// its buffers (BatchNorm running statistics, the fixed weight-norm gain), both keyed by timm/torchvision names.
import { numelOfSpecs, ParamStore, type ParamSpec as StoreSpec } from '../engine/param-store.js';
import { SimdArena } from '../engine/simd.js';
import { updateRunningStats } from '../models/layers/batch-norm.js';
import { initParams, numelOf, type ParamSpec } from '../models/params.js';
import type { Rng } from '../util/rng.js';
import type { SerializedTensor } from './method.js';

export class Network {
  readonly params: ParamStore;
  readonly buffers: Map<string, Float32Array>;

  constructor(
    readonly specs: readonly ParamSpec[],
    values: ReadonlyMap<string, Float32Array>,
    lrScale: (p: ParamSpec) => number = () => 1,
    arena: SimdArena | null = null,
  ) {
    const trainable: StoreSpec[] = specs
      .filter((p) => p.trainable)
      .map((p) => ({ name: p.name, shape: p.shape, weightDecay: p.weightDecay, lrScale: lrScale(p) }));
    this.params = new ParamStore(trainable, new Map(trainable.map((p) => [p.name, values.get(p.name)!])), undefined, arena);
    this.buffers = new Map(specs.filter((p) => !p.trainable).map((p) => [p.name, Float32Array.from(values.get(p.name)!)]));
  }

  /**
   * Initial values from the specs' init rules. With `arena`, the parameters (and later the teacher clone, gradients
   * and optimizer state) live in one SIMD kernel memory: see trainingArena.
   */
  static init(specs: readonly ParamSpec[], rng: Rng, lrScale?: (p: ParamSpec) => number, arena: SimdArena | null = null): Network {
    return new Network(specs, initParams(specs, rng), lrScale, arena);
  }

  /** An independent copy with the same values (the EMA teacher starts as the student). */
  clone(): Network {
    const values = new Map<string, Float32Array>();
    for (const [name, view] of this.params.toMap()) values.set(name, Float32Array.from(view.data));
    for (const [name, data] of this.buffers) values.set(name, Float32Array.from(data));
    return new Network(this.specs, values, (p) => this.params.specs.find((s) => s.name === p.name)?.lrScale ?? 1, this.params.arena);
  }

  /** Value of a parameter or buffer by name. */
  value(name: string): Float32Array {
    return this.buffers.get(name) ?? this.params.get(name);
  }

  /** Applies a train-mode forward's BatchNorm batch statistics to the running statistics. */
  updateBatchNorm(stats: readonly { name: string; mean: ArrayLike<number>; var: ArrayLike<number> }[]): void {
    if (stats.length) updateRunningStats(this.buffers, stats);
  }

  /** Every tensor (parameters and buffers), optionally prefixed and filtered, in spec order. */
  tensors(prefix = '', keep: (name: string) => boolean = () => true): Map<string, SerializedTensor> {
    const out = new Map<string, SerializedTensor>();
    for (const p of this.specs) {
      if (keep(p.name)) out.set(prefix + p.name, { shape: p.shape, data: this.value(p.name) });
    }
    return out;
  }

  /** Restores every tensor from `source[prefix + name]`; the error names what is missing or mis-shaped. */
  load(source: ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>, prefix: string, what: string): void {
    this.params.loadFrom(source, prefix, what);
    for (const [name, data] of this.buffers) {
      const t = source.get(prefix + name);
      if (!t || t.data.length !== data.length) throw new Error(`${what}: buffer '${prefix + name}' is missing or has ${t?.data.length} values, expected ${data.length}`);
      data.set(t.data);
    }
  }

  get parameterCount(): number {
    return this.specs.filter((p) => p.trainable).reduce((n, p) => n + numelOf(p.shape), 0);
  }
}

/**
 * The kernel memory for a training run of a network with these specs: student and teacher parameters, gradients and
 * up to two optimizer moments (AdamW), so the optimizer and EMA run in place. Null without WebAssembly SIMD.
 */
export function trainingArena(specs: readonly ParamSpec[]): SimdArena | null {
  return SimdArena.create(5 * numelOfSpecs(specs.filter((p) => p.trainable)) + 64);
}
