// The run's optimizer and the per-step values of every schedule: learning rate and weight decay here, the method's
// own (teacher momentum, temperature) from its definition.
import type { OptimDefaults } from '../config/optim.js';
import { AdamW } from '../engine/adamw.js';
import type { Optimizer, ParamStore } from '../engine/param-store.js';
import { SGD } from '../engine/sgd.js';
import type { StepScalars } from '../methods/method.js';
import { learningRate, scaleLearningRate, weightDecay } from './schedules.js';

export function createOptimizer(o: OptimDefaults, params: ParamStore): Optimizer {
  if (o.name === 'adamw') return new AdamW(params, { lr: o.lr, weightDecay: o.weight_decay, betas: o.betas });
  return new SGD(params, { lr: o.lr, weightDecay: o.weight_decay, momentum: o.momentum, lars: o.name === 'lars' });
}

export class Schedules {
  /** the learning rate after warmup, scaled for the batch size */
  readonly peakLr: number;

  constructor(
    readonly optim: OptimDefaults,
    readonly totalSteps: number,
    batchSize: number,
    private readonly method: (step: number) => Record<string, number> = () => ({}),
  ) {
    this.peakLr = scaleLearningRate(optim.lr, batchSize, optim.lr_scaling, optim.reference_batch_size);
  }

  at(step: number): StepScalars {
    const o = this.optim;
    return {
      step,
      totalSteps: this.totalSteps,
      lr: learningRate(step, this.totalSteps, this.peakLr, o.min_lr, o.warmup_steps),
      weightDecay: weightDecay(step, this.totalSteps, o.weight_decay, o.weight_decay_end),
      method: this.method(step),
    };
  }
}
