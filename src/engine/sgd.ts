// SGD with momentum as torch.optim.SGD (coupled weight decay, dampening 0, no Nesterov), and LARS as in SimCLR's
// reference LARSOptimizer (momentum buffer holds lr-scaled steps; trust ratio eta*|w|/|g|, none for bias/BN).
// As AdamW: a WebAssembly SIMD kernel in place where parameters, gradients and the momentum share a SimdArena, the JS
// loop (the reference) elsewhere; LARS's per-layer norms stay in JS.
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

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** Use LARS layer adaptation (SimCLR): parameters without weight decay (bias, norms) are not adapted either. */
  lars?: boolean;
  /** LARS trust coefficient (SimCLR: 0.001). */
  eta?: number;
  /** use the WebAssembly SIMD kernel when the runtime has it (default true; DINOTRAIN_SIMD=0 turns it off) */
  simd?: boolean;
}

export class SGD implements Optimizer {
  readonly kind: 'sgd' | 'lars';
  lr: number;
  weightDecay: number;
  readonly momentum: number;
  readonly eta: number;
  /** Momentum buffer, laid out like the parameters. */
  readonly buf: FlatTensors;
  readonly steps: Float64Array;
  private readonly layout: FlatLayout;
  private readonly lrScale: Float64Array;
  private readonly decays: Uint8Array;
  private readonly frozen: Uint8Array;
  private readonly useSimd: boolean;

  constructor(
    readonly params: ParamStore,
    options: SgdOptions,
  ) {
    this.kind = options.lars ? 'lars' : 'sgd';
    this.lr = options.lr;
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 0;
    this.eta = options.eta ?? 0.001;
    this.layout = params.layout;
    this.useSimd = options.simd ?? simdEnabled();
    const inArena = this.useSimd ? params.arena?.alloc(this.layout.total) : null;
    this.buf = new FlatTensors(this.layout, inArena ?? undefined);
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
    const [p, g, b] = [this.params.flat, grads, this.buf.flat];
    const kernels = this.useSimd ? kernelsHolding(p, g, b) : null;
    for (let i = 0; i < offsets.length; i++) {
      if (this.frozen[i]) continue;
      this.steps[i]++;
      const start = offsets[i];
      const end = start + sizes[i];
      const lr = this.lr * this.lrScale[i];
      const wd = this.decays[i] ? this.weightDecay : 0;
      // SGD: b = mu·b + (g + wd·p), p -= lr·b; LARS: b = mu·b + lr'·(g + wd·p), p -= b
      const [s, t] = this.kind === 'lars' ? [this.larsLr(grads, start, end, lr, wd, this.decays[i] === 1, gradScale), 1] : [1, lr];
      if (kernels) kernels.sgd(p.byteOffset + 4 * start, b.byteOffset + 4 * start, g.byteOffset + 4 * start, sizes[i], s, t, this.momentum, wd, gradScale);
      else sgdRange(p, b, g, start, end, s, t, this.momentum, wd, gradScale);
    }
  }

  /** true when the step runs as the WebAssembly SIMD kernel (for gradients in the arena) */
  get usesSimd(): boolean {
    return this.useSimd && kernelsHolding(this.params.flat, this.buf.flat) !== null;
  }

  /** LARS's layer lr: lr·eta·|w|/|g + wd·w| for adapted layers, lr for the others (bias, norms). */
  private larsLr(grads: Float32Array, start: number, end: number, lr: number, wd: number, adapt: boolean, gradScale: number): number {
    if (!adapt) return lr;
    const p = this.params.flat;
    const c = Math.fround(gradScale);
    let ww = 0;
    let gg = 0;
    for (let k = start; k < end; k++) {
      const w = p[k];
      const d = Math.fround(grads[k] * c) + wd * w;
      ww += w * w;
      gg += d * d;
    }
    return ww > 0 && gg > 0 ? (lr * this.eta * Math.sqrt(ww)) / Math.sqrt(gg) : lr;
  }

  /** Tensors 'momentum.<name>' (views) and 'step.<name>'. */
  exportState(): OptimizerState {
    const tensors: OptimizerState['tensors'] = this.buf.toMap('momentum.');
    stepCountsToTensors(this.layout, this.steps, tensors);
    return { tensors, metadata: { optimizer: this.kind, momentum: String(this.momentum), eta: String(this.eta) } };
  }

  importState(state: OptimizerStateSource): void {
    checkOptimizerKind(state, this.kind);
    this.buf.loadFrom(state.tensors, 'momentum.', 'optimizer state');
    stepCountsFromTensors(this.layout, state.tensors, this.steps);
  }
}

/** The SGD/LARS update of p[start..end) (the fallback of the SIMD kernel, same formula). */
function sgdRange(p: Float32Array, b: Float32Array, g: Float32Array, start: number, end: number, s: number, t: number, mu: number, wd: number, gradScale: number): void {
  const c = Math.fround(gradScale);
  for (let k = start; k < end; k++) {
    const gk = c === 1 ? g[k] : Math.fround(g[k] * c);
    let bk = mu * b[k] + s * (gk + wd * p[k]);
    if (bk < FLUSH && bk > -FLUSH) bk = 0;
    b[k] = bk;
    p[k] -= t * bk;
  }
}
