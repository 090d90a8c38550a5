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

/** One line that says what the optimizer does over the run, with the learning rate after batch scaling. */
export function describeOptimizer(o: OptimDefaults, batchSize: number, totalSteps: number): string {
  const peak = scaleLearningRate(o.lr, batchSize, o.lr_scaling, o.reference_batch_size);
  const scaling = o.lr_scaling === 'none' ? '' : ` (${o.lr} x ${o.lr_scaling === 'sqrt' ? `sqrt(${batchSize}/${o.reference_batch_size})` : `${batchSize}/${o.reference_batch_size}`})`;
  const wd = o.weight_decay === o.weight_decay_end ? `${o.weight_decay}` : `${o.weight_decay} -> ${o.weight_decay_end}`;
  return (
    `optimizer ${o.name}: lr ${Number(peak.toPrecision(4))}${scaling} after ${o.warmup_steps} warmup steps, cosine to ${o.min_lr} at step ${totalSteps}; ` +
    `weight decay ${wd}${o.clip_grad > 0 ? `; gradients clipped at norm ${o.clip_grad}` : ''}`
  );
}
