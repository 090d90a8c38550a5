// The run's resolved optimizer settings and the per-step values of every schedule.
import { optimDefaults, type ResolvedOptim } from '../config/methods.js';
import type { PretrainConfig } from '../config/schema.js';
import { AdamW } from '../engine/adamw.js';
import type { Optimizer, ParamStore } from '../engine/param-store.js';
import { SGD } from '../engine/sgd.js';
import type { StepScalars } from '../methods/method.js';
import { learningRate, scaleLearningRate, teacherMomentum, teacherTemperature, weightDecay } from './schedules.js';

/** Method defaults overlaid with the config's `optim` keys; warmup defaults to 10% of the run (at most 10 epochs' worth). */
export function resolveOptim(cfg: PretrainConfig, totalSteps: number, stepsPerEpoch: number): ResolvedOptim {
  const o: ResolvedOptim = { ...optimDefaults[cfg.method] };
  // another optimizer than the method's brings its own learning rate and decay (SGD's lr 0.3 would wreck AdamW)
  if (cfg.optim.name && cfg.optim.name !== o.name) Object.assign(o, OPTIMIZER_FALLBACKS[cfg.optim.name]);
  for (const [k, v] of Object.entries(cfg.optim)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  if (cfg.optim.weight_decay !== undefined && cfg.optim.weight_decay_end === undefined) o.weight_decay_end = o.weight_decay;
  if (o.warmup_steps < 0) o.warmup_steps = Math.min(Math.floor(totalSteps * 0.1), 10 * stepsPerEpoch);
  return o;
}

const OPTIMIZER_FALLBACKS: Record<ResolvedOptim['name'], Partial<ResolvedOptim>> = {
  adamw: { name: 'adamw', lr: 0.0005, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 0.05, weight_decay_end: 0.05, min_lr: 1e-6 },
  sgd: { name: 'sgd', lr: 0.3, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 1e-6, weight_decay_end: 1e-6, min_lr: 0 },
  lars: { name: 'lars', lr: 0.3, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 1e-6, weight_decay_end: 1e-6, min_lr: 0 },
};

export function createOptimizer(o: ResolvedOptim, params: ParamStore): Optimizer {
  if (o.name === 'adamw') return new AdamW(params, { lr: o.lr, weightDecay: o.weight_decay, betas: o.betas });
  return new SGD(params, { lr: o.lr, weightDecay: o.weight_decay, momentum: o.momentum, lars: o.name === 'lars' });
}

interface TeacherArgs {
  teacher_temp?: number;
  warmup_teacher_temp?: number;
  warmup_teacher_temp_fraction?: number;
  momentum_start?: number;
  momentum_end?: number;
}

export class Schedules {
  readonly peakLr: number;
  constructor(
    readonly optim: ResolvedOptim,
    readonly totalSteps: number,
    batchSize: number,
    private readonly teacher: TeacherArgs,
  ) {
    this.peakLr = scaleLearningRate(optim.lr, batchSize, optim.lr_scaling, optim.reference_batch_size);
  }

  at(step: number): StepScalars {
    const o = this.optim;
    const t = this.teacher;
    const warmTemp = Math.round((t.warmup_teacher_temp_fraction ?? 0) * this.totalSteps);
    return {
      step,
      totalSteps: this.totalSteps,
      lr: learningRate(step, this.totalSteps, this.peakLr, o.min_lr, o.warmup_steps),
      weightDecay: weightDecay(step, this.totalSteps, o.weight_decay, o.weight_decay_end),
      momentum: t.momentum_start !== undefined ? teacherMomentum(step, this.totalSteps, t.momentum_start, t.momentum_end ?? 1) : 0,
      teacherTemp: t.teacher_temp !== undefined ? teacherTemperature(step, warmTemp, t.warmup_teacher_temp ?? t.teacher_temp, t.teacher_temp) : 0,
    };
  }
}
