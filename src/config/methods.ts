// Per-method hyperparameters (`method_args`) and optimizer defaults. Values follow the DINO / DINOv2 / SimCLR papers'
// reference code and LightlyTrain's documented defaults; steps replace epochs where a schedule is counted.
import { z } from 'zod';

export const methodNames = ['dino', 'dinov2', 'simclr'] as const;
export type MethodName = (typeof methodNames)[number];

const prob = z.number().min(0).max(1);
const posInt = z.number().int().positive();
const nonNegInt = z.number().int().min(0);

/** Number of prototypes: a number, or 'auto' (chosen from the dataset size, see resolvePrototypes). */
const prototypes = z.union([posInt, z.literal('auto')]);

export const dinoArgsSchema = z
  .object({
    hidden_dim: posInt.default(2048),
    bottleneck_dim: posInt.default(256),
    output_dim: prototypes.default('auto'),
    student_temp: z.number().positive().default(0.1),
    teacher_temp: z.number().positive().default(0.07),
    warmup_teacher_temp: z.number().positive().default(0.04),
    /** Fraction of the run over which the teacher temperature warms up (DINO: 30 of 100 epochs). */
    warmup_teacher_temp_fraction: prob.default(0.3),
    center_momentum: prob.default(0.9),
    momentum_start: prob.default(0.996),
    momentum_end: prob.default(1.0),
    /** Steps with the head's last layer frozen; 'auto': one epoch as DINO does, at most 10% of the run. */
    freeze_last_layer_steps: z.union([nonNegInt, z.literal('auto')]).default('auto'),
  })
  .strict();

export const dinov2ArgsSchema = z
  .object({
    hidden_dim: posInt.default(2048),
    bottleneck_dim: posInt.default(256),
    output_dim: prototypes.default('auto'),
    ibot_separate_head: z.boolean().default(false),
    ibot_output_dim: prototypes.default('auto'),
    student_temp: z.number().positive().default(0.1),
    teacher_temp: z.number().positive().default(0.07),
    warmup_teacher_temp: z.number().positive().default(0.04),
    warmup_teacher_temp_fraction: prob.default(0.3),
    centering: z.enum(['softmax', 'sinkhorn_knopp']).default('softmax'),
    center_momentum: prob.default(0.9),
    momentum_start: prob.default(0.992),
    momentum_end: prob.default(1.0),
    dino_loss_weight: z.number().min(0).default(1.0),
    ibot_loss_weight: z.number().min(0).default(1.0),
    koleo_loss_weight: z.number().min(0).default(0.1),
    /** Range of the masked fraction of patches, spread over the masked global crops. */
    mask_ratio: z
      .tuple([prob, prob])
      .refine(([lo, hi]) => lo <= hi, 'the first value (smallest ratio) must not exceed the second')
      .default([0.1, 0.5]),
    /** Fraction of the global crops that get a mask. */
    mask_probability: prob.default(0.5),
    layerwise_decay: z.number().min(0).max(1).default(0.9),
    patch_embed_lr_multiplier: z.number().min(0).default(0.2),
    /** Steps with the heads' last layer frozen; 'auto': one epoch (as DINOv2 and LightlyTrain), at most 10% of the run. */
    freeze_last_layer_steps: z.union([nonNegInt, z.literal('auto')]).default('auto'),
  })
  .strict();
export type Dinov2Args = z.infer<typeof dinov2ArgsSchema>;

/** SimCLR (Chen et al. 2020): projection head Linear-BN-ReLU-Linear (2048 hidden, 128 out), NT-Xent at τ = 0.1. */
export const simclrArgsSchema = z
  .object({
    hidden_dim: posInt.default(2048),
    output_dim: posInt.default(128),
    temperature: z.number().positive().default(0.1),
  })
  .strict();
export type SimclrArgs = z.infer<typeof simclrArgsSchema>;

export const optimSchema = z
  .object({
    name: z.enum(['adamw', 'sgd', 'lars']).optional(),
    /** Base learning rate at the reference batch size; scaled to the actual batch size by `lr_scaling`. */
    lr: z.number().positive().optional(),
    lr_scaling: z.enum(['linear', 'sqrt', 'none']).optional(),
    reference_batch_size: posInt.optional(),
    min_lr: z.number().min(0).optional(),
    warmup_steps: nonNegInt.optional(),
    weight_decay: z.number().min(0).optional(),
    weight_decay_end: z.number().min(0).optional(),
    momentum: prob.optional(),
    betas: z.tuple([prob, prob]).optional(),
    clip_grad: z.number().min(0).optional(),
  })
  .strict();
export type OptimArgs = z.infer<typeof optimSchema>;

export interface ResolvedOptim {
  name: 'adamw' | 'sgd' | 'lars';
  lr: number;
  lr_scaling: 'linear' | 'sqrt' | 'none';
  reference_batch_size: number;
  min_lr: number;
  warmup_steps: number;
  weight_decay: number;
  weight_decay_end: number;
  momentum: number;
  betas: [number, number];
  clip_grad: number;
}

/** Optimizer defaults per method; warmup_steps < 0 means "10% of the run" and is resolved with the step count. */
export const optimDefaults: Record<MethodName, ResolvedOptim> = {
  dino: {
    name: 'adamw', lr: 0.0005, lr_scaling: 'linear', reference_batch_size: 256, min_lr: 1e-6, warmup_steps: -1,
    weight_decay: 0.04, weight_decay_end: 0.4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 3.0,
  },
  dinov2: {
    name: 'adamw', lr: 0.004, lr_scaling: 'sqrt', reference_batch_size: 1024, min_lr: 1e-6, warmup_steps: -1,
    weight_decay: 0.04, weight_decay_end: 0.4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 3.0,
  },
  // SimCLR with momentum SGD sized for the small batches dinotrain runs on: lr 0.1 x B/256, momentum 0.9, weight
  // decay 5e-4 (BN parameters and biases exempt through the specs' weightDecay flags), warmup then cosine to 0, no
  // clipping. The paper's 0.3 x B/256 with weight decay 1e-6 is tuned for LARS at batches in the thousands; measured
  // on Fashion-MNIST (docs/quality.md), that setting at batch 128 stalled (the stem's weight norm grew 7x in 50 steps,
  // shrinking the effective step), while this one kept improving kNN accuracy. optim.name: lars gives LARS (trust
  // coefficient 0.001); ViT backbones want AdamW (optim: {name: adamw}).
  simclr: {
    name: 'sgd', lr: 0.1, lr_scaling: 'linear', reference_batch_size: 256, min_lr: 0, warmup_steps: -1,
    weight_decay: 5e-4, weight_decay_end: 5e-4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 0,
  },
};

export const defaultModel: Record<MethodName, string> = {
  dino: 'vit-tiny/16',
  dinov2: 'vit-small/14',
  simclr: 'resnet18',
};

/**
 * Prototype count for output_dim 'auto': the papers' 65,536 suits ImageNet-scale data; on small datasets so many
 * prototypes are mostly unused and slow every step, so dinotrain scales K with the number of images.
 */
export function resolvePrototypes(value: number | 'auto', datasetSize: number): number {
  if (value !== 'auto') return value;
  if (datasetSize >= 1_000_000) return 65536;
  if (datasetSize >= 100_000) return 16384;
  if (datasetSize >= 10_000) return 4096;
  return 1024;
}
