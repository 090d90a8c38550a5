// Per-step hyperparameter schedules: pure functions of the step (0-based) and the run length, following DINO's
// utils.cosine_scheduler with epochs replaced by optimizer steps (the teacher's own are in methods/teacher/).
// A step past the end of the schedule gets the schedule's last value (a resumed run that trains longer keeps it).

export interface CosineOptions {
  /** Value at the end of warmup (the start of the cosine). */
  base: number;
  /** Value the cosine decays towards (reached at step totalSteps, one past the last step). */
  final: number;
  /** Linear warmup steps from startWarmup to base (numpy.linspace semantics: both ends included). */
  warmupSteps?: number;
  startWarmup?: number;
}

/** Value at index i of numpy.linspace(a, b, n). */
export function linspaceAt(i: number, n: number, a: number, b: number): number {
  if (n === 1) return a;
  if (i === n - 1) return b;
  return a + ((b - a) * i) / (n - 1);
}

function checkSteps(step: number, totalSteps: number): number {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`totalSteps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${step}`);
  return Math.min(step, totalSteps - 1);
}

/** DINO's cosine_scheduler(base, final, epochs, niter_per_ep, warmup_epochs, start_warmup_value)[step]. */
export function cosineSchedule(step: number, totalSteps: number, o: CosineOptions): number {
  const s = checkSteps(step, totalSteps);
  const warmup = Math.min(o.warmupSteps ?? 0, totalSteps);
  if (s < warmup) return linspaceAt(s, warmup, o.startWarmup ?? 0, o.base);
  const len = totalSteps - warmup;
  return o.final + 0.5 * (o.base - o.final) * (1 + Math.cos((Math.PI * (s - warmup)) / len));
}

/** Learning rate: linear warmup from 0 to `lr`, then cosine to `minLr` (DINO's lr_schedule). */
export function learningRate(step: number, totalSteps: number, lr: number, minLr: number, warmupSteps: number): number {
  return cosineSchedule(step, totalSteps, { base: lr, final: minLr, warmupSteps });
}

/** Weight decay: cosine from `start` to `end` (DINO: 0.04 -> 0.4). */
export function weightDecay(step: number, totalSteps: number, start: number, end: number): number {
  return cosineSchedule(step, totalSteps, { base: start, final: end });
}

export type LrScaling = 'linear' | 'sqrt' | 'none';

/**
 * Learning rate for the actual batch size: linear (Goyal et al., DINO: lr * B / 256) or square root
 * (DINOv2: lr * sqrt(B / 1024)); the reference batch size is the config's.
 */
export function scaleLearningRate(lr: number, batchSize: number, rule: LrScaling, referenceBatchSize: number): number {
  if (rule === 'linear') return (lr * batchSize) / referenceBatchSize;
  if (rule === 'sqrt') return lr * Math.sqrt(batchSize / referenceBatchSize);
  return lr;
}
