// The `optim` section: which optimizer, its learning rate and how it scales with the batch, its schedule and
// clipping. Methods bring their defaults (OptimDefaults); a config overrides any of them.
import { z } from 'zod';
import type { LrScaling } from '../train/schedules.js';

const prob = z.number().min(0).max(1);

export const optimSchema = z
  .object({
    name: z.enum(['adamw', 'sgd', 'lars']).optional(),
    /** Base learning rate at the reference batch size; scaled to the actual batch size by `lr_scaling`. */
    lr: z.number().positive().optional(),
    lr_scaling: z.enum(['linear', 'sqrt', 'none']).optional(),
    reference_batch_size: z.number().int().positive().optional(),
    min_lr: z.number().min(0).optional(),
    warmup_steps: z.number().int().min(0).optional(),
    weight_decay: z.number().min(0).optional(),
    weight_decay_end: z.number().min(0).optional(),
    momentum: prob.optional(),
    betas: z.tuple([prob, prob]).optional(),
    clip_grad: z.number().min(0).optional(),
  })
  .strict();
export type OptimArgs = z.infer<typeof optimSchema>;

/** Every optimizer setting with its value; warmup_steps < 0 in a method's defaults means "10% of the run". */
export interface OptimDefaults {
  name: 'adamw' | 'sgd' | 'lars';
  lr: number;
  lr_scaling: LrScaling;
  reference_batch_size: number;
  min_lr: number;
  warmup_steps: number;
  weight_decay: number;
  weight_decay_end: number;
  momentum: number;
  betas: [number, number];
  clip_grad: number;
}

/** An optimizer other than the method's brings its own learning rate and decay (SGD's lr 0.3 would wreck AdamW). */
const OPTIMIZER_FALLBACKS: Record<OptimDefaults['name'], Partial<OptimDefaults>> = {
  adamw: { name: 'adamw', lr: 0.0005, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 0.05, weight_decay_end: 0.05, min_lr: 1e-6 },
  sgd: { name: 'sgd', lr: 0.3, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 1e-6, weight_decay_end: 1e-6, min_lr: 0 },
  lars: { name: 'lars', lr: 0.3, lr_scaling: 'linear', reference_batch_size: 256, weight_decay: 1e-6, weight_decay_end: 1e-6, min_lr: 0 },
};

/**
 * The method's defaults overlaid with the config's `optim` keys; warmup defaults to 10% of the run (at most 10
 * epochs' worth).
 */
export function resolveOptim(defaults: OptimDefaults, set: OptimArgs, totalSteps: number, stepsPerEpoch: number): OptimDefaults {
  const o: OptimDefaults = { ...defaults, betas: [...defaults.betas] };
  if (set.name && set.name !== o.name) Object.assign(o, OPTIMIZER_FALLBACKS[set.name]);
  for (const [k, v] of Object.entries(set)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  if (set.weight_decay !== undefined && set.weight_decay_end === undefined) o.weight_decay_end = o.weight_decay;
  if (o.warmup_steps < 0) o.warmup_steps = Math.min(Math.floor(totalSteps * 0.1), 10 * Math.max(1, stepsPerEpoch));
  return o;
}
