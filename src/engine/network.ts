// A network's values outside the graph: the trainable parameters (one flat ParamStore the optimizer updates) and
// its buffers (BatchNorm running statistics, the fixed weight-norm gain), both keyed by timm/torchvision names.
// trainingNetworks() makes the networks of one training run (student, EMA teacher, gradients) and decides where
// their memory lives; methods never see that choice.
import { updateRunningStats } from '../models/layers/batch-norm.js';
import { initParams, type ParamSpec } from '../models/params.js';
import type { SerializedTensor } from '../models/weights.js';
import type { Rng } from '../util/rng.js';
import { numel } from '../util/shape.js';
import { type FlatTensors, numelOfAll, ParamStore, type TrainableTensor } from './param-store.js';
import { SimdArena } from './simd.js';

export class Network {
  readonly params: ParamStore;
  readonly buffers: Map<string, Float32Array>;

  constructor(
    readonly specs: readonly ParamSpec[],
    values: ReadonlyMap<string, Float32Array>,
    lrScale: (p: ParamSpec) => number = () => 1,
    arena: SimdArena | null = null,
  ) {
    const trainable: TrainableTensor[] = specs
      .filter((p) => p.trainable)
      .map((p) => ({ name: p.name, shape: p.shape, weightDecay: p.weightDecay, lrScale: lrScale(p) }));
    this.params = new ParamStore(trainable, new Map(trainable.map((p) => [p.name, values.get(p.name)!])), undefined, arena);
    this.buffers = new Map(specs.filter((p) => !p.trainable).map((p) => [p.name, Float32Array.from(values.get(p.name)!)]));
  }

  /** An independent copy with the same values, in the same memory (the EMA teacher starts as the student). */
  clone(): Network {
    const values = new Map<string, Float32Array>();
    for (const [name, view] of this.params.toMap()) values.set(name, Float32Array.from(view.data));
    for (const [name, data] of this.buffers) values.set(name, Float32Array.from(data));
    const scales = new Map(this.params.specs.map((s) => [s.name, s.lrScale ?? 1]));
    return new Network(this.specs, values, (p) => scales.get(p.name) ?? 1, this.params.arena);
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
    return this.specs.filter((p) => p.trainable).reduce((n, p) => n + numel(p.shape), 0);
  }
}

/** The networks a method trains: the student, its gradients, and an EMA teacher where the method has one. */
export interface TrainingNetworks {
  student: Network;
  grads: FlatTensors;
  teacher?: Network;
}

/**
 * A training run's networks from their specs, seeded. Student and teacher parameters, gradients and the optimizer's
 * state (allocated later from student.params) share one SIMD kernel memory where the runtime has WebAssembly SIMD,
 * so the optimizer, the EMA and clipping run in place on them; elsewhere they are plain arrays and the same maths
 * runs as JS loops.
 */
export function trainingNetworks(
  specs: readonly ParamSpec[],
  rng: Rng,
  opts: { teacher?: boolean; lrScale?: (p: ParamSpec) => number } = {},
): TrainingNetworks {
  // student, teacher, gradients and up to two optimizer moments (AdamW)
  const arena = SimdArena.create(5 * numelOfAll(specs.filter((p) => p.trainable)) + 64);
  const student = new Network(specs, initParams(specs, rng), opts.lrScale, arena);
  return { student, grads: student.params.createGradients(), teacher: opts.teacher ? student.clone() : undefined };
}
