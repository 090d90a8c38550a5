// SGD with momentum as torch.optim.SGD (coupled weight decay, dampening 0, no Nesterov), and LARS as in SimCLR's
// reference LARSOptimizer (momentum buffer holds lr-scaled steps; trust ratio eta*|w|/|g|, none for bias/BN).
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

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** Use LARS layer adaptation (SimCLR): parameters without weight decay (bias, norms) are not adapted either. */
  lars?: boolean;
  /** LARS trust coefficient (SimCLR: 0.001). */
  eta?: number;
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
    this.buf = new FlatTensors(this.layout);
    const n = this.layout.names.length;
    this.steps = new Float64Array(n);
    this.lrScale = Float64Array.from(params.specs, (s) => s.lrScale ?? 1);
    this.decays = Uint8Array.from(params.specs, (s) => (s.weightDecay ? 1 : 0));
    this.frozen = new Uint8Array(n);
  }

  setFrozen(name: string, frozen: boolean): void {
    this.frozen[this.layout.indexOf(name)] = frozen ? 1 : 0;
  }

  step(grads: Float32Array): void {
    if (grads.length !== this.layout.total) throw new Error(`gradient buffer has ${grads.length} floats, expected ${this.layout.total}`);
    const { offsets, sizes } = this.layout;
    for (let i = 0; i < offsets.length; i++) {
      if (this.frozen[i]) continue;
      this.steps[i]++;
      const start = offsets[i];
      const end = start + sizes[i];
      const lr = this.lr * this.lrScale[i];
      const wd = this.decays[i] ? this.weightDecay : 0;
      if (this.kind === 'lars') this.larsTensor(grads, start, end, lr, wd, this.decays[i] === 1);
      else this.sgdTensor(grads, start, end, lr, wd);
    }
  }

  private sgdTensor(grads: Float32Array, start: number, end: number, lr: number, wd: number): void {
    const p = this.params.flat;
    const b = this.buf.flat;
    const mu = this.momentum;
    for (let k = start; k < end; k++) {
      const d = grads[k] + wd * p[k];
      const bk = mu * b[k] + d;
      b[k] = bk;
      p[k] -= lr * bk;
    }
  }

  private larsTensor(grads: Float32Array, start: number, end: number, lr: number, wd: number, adapt: boolean): void {
    const p = this.params.flat;
    const b = this.buf.flat;
    const mu = this.momentum;
    let scaledLr = lr;
    if (adapt) {
      let ww = 0;
      let gg = 0;
      for (let k = start; k < end; k++) {
        const w = p[k];
        const d = grads[k] + wd * w;
        ww += w * w;
        gg += d * d;
      }
      if (ww > 0 && gg > 0) scaledLr = (lr * this.eta * Math.sqrt(ww)) / Math.sqrt(gg);
    }
    for (let k = start; k < end; k++) {
      const d = grads[k] + wd * p[k];
      const bk = mu * b[k] + scaledLr * d;
      b[k] = bk;
      p[k] -= bk;
    }
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
