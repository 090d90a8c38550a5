// AdamW as torch.optim.AdamW (decoupled weight decay, bias correction), one fused loop over the flat buffers.
// Per parameter: lr = base lr * lrScale (a PyTorch param group per scale), decay only where the spec allows it.
// Two paths, same formula: a WebAssembly SIMD kernel (float32 arithmetic, as torch; ~6x faster) that runs in place
// where the parameters, gradients and moments share a SimdArena (a training run's: the moments are allocated there),
// and the plain JS loop, the reference, everywhere else.
import {
  type FlatLayout,
  FlatTensors,
  type Optimizer,
  type OptimizerState,
  type OptimizerStateSource,
  type ParamStore,
  checkOptimizerKind,
  stepCountsFromTensors,
  stepCountsToTensors,
} from './param-store.js';
import { simdEnabled } from '../util/wasm-simd.js';
import { FLUSH, kernelsHolding } from './simd.js';

export interface AdamWOptions {
  lr: number;
  weightDecay: number;
  betas?: readonly [number, number];
  eps?: number;
  /** use the WebAssembly SIMD kernel when the runtime has it (default true; DINOTRAIN_SIMD=0 turns it off) */
  simd?: boolean;
}

// Moments below FLUSH are flushed to zero: float32 denormals (a moment decaying under zero gradients, e.g. a frozen
// layer) make every load of them ~20x slower on x86. The effect on the update is below 1e-22.

export class AdamW implements Optimizer {
  readonly kind = 'adamw' as const;
  lr: number;
  weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** First and second moments, laid out like the parameters. */
  readonly m: FlatTensors;
  readonly v: FlatTensors;
  /** Steps taken per parameter (frozen steps do not count, as in PyTorch). */
  readonly steps: Float64Array;
  private readonly layout: FlatLayout;
  private readonly lrScale: Float64Array;
  private readonly decays: Uint8Array;
  private readonly frozen: Uint8Array;
  private readonly useSimd: boolean;

  constructor(
    readonly params: ParamStore,
    options: AdamWOptions,
  ) {
    this.lr = options.lr;
    this.weightDecay = options.weightDecay;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.layout = params.layout;
    this.useSimd = options.simd ?? simdEnabled();
    // both moments in the arena (the kernel path) or neither (the JS path)
    const am = this.useSimd ? params.arena?.alloc(this.layout.total) : null;
    const av = am ? params.arena!.alloc(this.layout.total) : null;
    this.m = new FlatTensors(this.layout, av ? am! : undefined);
    this.v = new FlatTensors(this.layout, av ?? undefined);
    const n = this.layout.names.length;
    this.steps = new Float64Array(n);
    this.lrScale = Float64Array.from(params.specs, (s) => s.lrScale ?? 1);
    this.decays = Uint8Array.from(params.specs, (s) => (s.weightDecay ? 1 : 0));
    this.frozen = new Uint8Array(n);
  }

  setFrozen(name: string, frozen: boolean): void {
    this.frozen[this.layout.indexOf(name)] = frozen ? 1 : 0;
  }

  step(grads: Float32Array, gradScale = 1): void {
    if (grads.length !== this.layout.total) throw new Error(`gradient buffer has ${grads.length} floats, expected ${this.layout.total}`);
    const { offsets, sizes } = this.layout;
    const [p, g, m, v] = [this.params.flat, grads, this.m.flat, this.v.flat];
    const kernels = this.useSimd ? kernelsHolding(p, g, m, v) : null;
    const { beta1: b1, beta2: b2, eps } = this;
    for (let i = 0; i < offsets.length; i++) {
      if (this.frozen[i]) continue;
      const t = ++this.steps[i];
      const lr = this.lr * this.lrScale[i];
      const keep = this.decays[i] ? 1 - lr * this.weightDecay : 1;
      const stepSize = lr / (1 - Math.pow(b1, t));
      const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(b2, t));
      if (kernels) {
        const o = 4 * offsets[i];
        kernels.adamw(p.byteOffset + o, m.byteOffset + o, v.byteOffset + o, g.byteOffset + o, sizes[i], keep, stepSize, invSqrtBc2, b1, 1 - b1, b2, 1 - b2, eps, gradScale);
      } else {
        adamwRange(p, m, v, g, offsets[i], offsets[i] + sizes[i], keep, stepSize, invSqrtBc2, b1, b2, eps, gradScale);
      }
    }
  }

  /** true when the step runs as the WebAssembly SIMD kernel (for gradients in the arena) */
  get usesSimd(): boolean {
    return this.useSimd && kernelsHolding(this.params.flat, this.m.flat, this.v.flat) !== null;
  }

  /** Tensors 'm.<name>', 'v.<name>' (views, not copies) and 'step.<name>'. */
  exportState(): OptimizerState {
    const tensors: OptimizerState['tensors'] = new Map([...this.m.toMap('m.'), ...this.v.toMap('v.')]);
    stepCountsToTensors(this.layout, this.steps, tensors);
    return {
      tensors,
      metadata: { optimizer: this.kind, betas: `${this.beta1},${this.beta2}`, eps: String(this.eps) },
    };
  }

  importState(state: OptimizerStateSource): void {
    checkOptimizerKind(state, this.kind);
    this.m.loadFrom(state.tensors, 'm.', 'optimizer state');
    this.v.loadFrom(state.tensors, 'v.', 'optimizer state');
    stepCountsFromTensors(this.layout, state.tensors, this.steps);
  }
}

/** The AdamW update of p[start..end) (kept small and monomorphic so V8 optimises it once for every tensor). */
function adamwRange(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  start: number,
  end: number,
  keep: number,
  stepSize: number,
  invSqrtBc2: number,
  b1: number,
  b2: number,
  eps: number,
  gradScale: number,
): void {
  const a1 = 1 - b1;
  const a2 = 1 - b2;
  const c = Math.fround(gradScale);
  for (let k = start; k < end; k++) {
    const gk = c === 1 ? g[k] : Math.fround(g[k] * c);
    let mk = b1 * m[k] + a1 * gk;
    let vk = b2 * v[k] + a2 * gk * gk;
    if (mk < FLUSH && mk > -FLUSH) mk = 0;
    if (vk < FLUSH) vk = 0;
    m[k] = mk;
    v[k] = vk;
    p[k] = p[k] * keep - (stepSize * mk) / (Math.sqrt(vk) * invSqrtBc2 + eps);
  }
}
