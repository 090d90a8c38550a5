// One training step, the same for every method and for the benchmark: forward and backward (the method's sessions),
// the NaN guard, frozen layers, the gradients averaged over a data-parallel job, global-norm clipping folded into the
// optimizer step, then the method's own after-step work (EMA teacher, centers, BatchNorm statistics).
import type { Batch } from '../data/loader.js';
import type { Communicator } from '../distributed/communicator.js';
import { globalNormClip } from '../engine/clip.js';
import type { Optimizer } from '../engine/param-store.js';
import type { StepScalars, TrainingMethod } from '../methods/method.js';
import { UserError } from '../util/errors.js';
import type { Schedules } from './hyperparams.js';

/** What trains: the method, its optimizer, the schedules and the job's processes. */
export interface Training {
  method: TrainingMethod;
  optimizer: Optimizer;
  schedules: Schedules;
  /** global gradient-norm clip (0: none) */
  clipGrad: number;
  comm: Communicator;
}

export interface StepOutcome {
  loss: number;
  parts: Record<string, number>;
  /** the method's own phase timings (StepResult.times) */
  times: Record<string, number>;
  scalars: StepScalars;
  /** the gradient norm before clipping (NaN when the run does not clip) */
  gradNorm: number;
  /** milliseconds spent in each phase of the step */
  ms: { forwardBackward: number; allreduce: number; optimizer: number; afterStep: number };
}

export class NonFiniteLossError extends UserError {
  constructor(step: number, loss: number, parts: Record<string, number>) {
    const detail = Object.entries(parts).map(([k, v]) => `${k}=${v}`).join(', ');
    super(
      `loss became ${loss} at step ${step}${detail ? ` (${detail})` : ''}; training stopped. ` +
        'The last good checkpoint is intact. Try a lower learning rate (--lr) or a smaller clip value (optim.clip_grad).',
      1,
    );
  }
}

/**
 * Step `step` (0-based: the number of steps already taken) on `batch`. Throws NonFiniteLossError, naming the step as
 * the logs count it (1-based), before anything is updated.
 */
export async function trainStep(t: Training, batch: Batch, step: number): Promise<StepOutcome> {
  const { method, optimizer, comm } = t;
  const s = t.schedules.at(step);
  const t0 = performance.now();
  const r = await method.forwardBackward(batch, s);
  const t1 = performance.now();
  let loss = r.loss;
  let parts = r.parts;
  if (comm.size > 1) ({ loss, parts } = averageOverRanks(comm, method, r.loss, r.parts));
  const t2 = performance.now();
  if (!Number.isFinite(loss)) throw new NonFiniteLossError(step + 1, loss, parts);

  const frozen = new Set(method.frozenAt(step));
  for (const name of method.params.names) optimizer.setFrozen(name, frozen.has(name));
  const clip = t.clipGrad > 0 ? globalNormClip(method.grads.flat, t.clipGrad) : { norm: NaN, coef: 1 };
  optimizer.lr = s.lr;
  optimizer.weightDecay = s.weightDecay;
  optimizer.step(method.grads.flat, clip.coef);
  const t3 = performance.now();
  method.afterStep(s);
  const t4 = performance.now();
  return { loss, parts, times: r.times ?? {}, scalars: s, gradNorm: clip.norm, ms: { forwardBackward: t1 - t0, allreduce: t2 - t1, optimizer: t3 - t2, afterStep: t4 - t3 } };
}

/**
 * The gradients and the logged losses as means over the job: each rank's loss is the mean over its slice of the
 * global batch, and the slices are equal, so the mean of the ranks' values is the global batch's.
 */
function averageOverRanks(comm: Communicator, method: TrainingMethod, loss: number, parts: Record<string, number>) {
  const g = method.grads.flat;
  comm.allreduceSum(g);
  const inv = 1 / comm.size;
  for (let i = 0; i < g.length; i++) g[i] *= inv;
  const names = Object.keys(parts);
  const values = Float64Array.from([loss, ...names.map((n) => parts[n])]);
  comm.allreduceSum(values);
  return { loss: values[0] * inv, parts: Object.fromEntries(names.map((n, i) => [n, values[i + 1] * inv])) };
}
