// Settings every teacher-student method (DINO, DINOv2) has: the DINO head, temperatures, the teacher's EMA
// momentum and centering, the frozen last layer; and how their 'auto' values resolve.
import { z } from 'zod';
import type { RunSize } from '../definition.js';

const prob = z.number().min(0).max(1);
const posInt = z.number().int().positive();

/** Number of prototypes: a number, or 'auto' (chosen from the dataset size, see resolvePrototypes). */
export const prototypes = z.union([posInt, z.literal('auto')]);

/** The shared keys; `momentumStart` differs between DINO (0.996) and DINOv2 (0.992). */
export function teacherArgsShape(momentumStart: number) {
  return {
    hidden_dim: posInt.default(2048),
    bottleneck_dim: posInt.default(256),
    output_dim: prototypes.default('auto'),
    student_temp: z.number().positive().default(0.1),
    teacher_temp: z.number().positive().default(0.07),
    warmup_teacher_temp: z.number().positive().default(0.04),
    /** Fraction of the run over which the teacher temperature warms up (DINO: 30 of 100 epochs). */
    warmup_teacher_temp_fraction: prob.default(0.3),
    center_momentum: prob.default(0.9),
    momentum_start: prob.default(momentumStart),
    momentum_end: prob.default(1.0),
    /** Steps with the head's last layer frozen; 'auto': one epoch as DINO does, at most 10% of the run. */
    freeze_last_layer_steps: z.union([z.number().int().min(0), z.literal('auto')]).default('auto'),
  };
}

export interface TeacherArgs {
  hidden_dim: number;
  bottleneck_dim: number;
  output_dim: number | 'auto';
  student_temp: number;
  teacher_temp: number;
  warmup_teacher_temp: number;
  warmup_teacher_temp_fraction: number;
  center_momentum: number;
  momentum_start: number;
  momentum_end: number;
  freeze_last_layer_steps: number | 'auto';
}

/**
 * Prototype count for output_dim 'auto': the papers' 65,536 suits ImageNet-scale data; on small datasets so many
 * prototypes are mostly unused and slow every step, so dinotrain scales K with the number of images.
 */
export function resolvePrototypes(value: number | 'auto', images: number): number {
  if (value !== 'auto') return value;
  if (images >= 1_000_000) return 65536;
  if (images >= 100_000) return 16384;
  if (images >= 10_000) return 4096;
  return 1024;
}

/**
 * Steps to keep the head's last layer frozen for 'auto': one epoch, as DINO and DINOv2 do (1 of 100 epochs), but at
 * most 10% of the run, so a short run does not spend all of it with a frozen last layer.
 */
export function autoFreezeSteps(run: RunSize): number {
  return Math.min(Math.floor(run.images / Math.max(1, run.batchSize)), Math.floor(run.totalSteps / 10));
}

/** output_dim and freeze_last_layer_steps as numbers for this run. */
export function resolveTeacherArgs<A extends TeacherArgs>(a: A, run: RunSize): A {
  return {
    ...a,
    output_dim: resolvePrototypes(a.output_dim, run.images),
    freeze_last_layer_steps: a.freeze_last_layer_steps === 'auto' ? autoFreezeSteps(run) : a.freeze_last_layer_steps,
  };
}
