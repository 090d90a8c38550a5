// The training loop, shared by every method: data → method.forwardBackward → NaN guard → freeze/clip →
// optimizer → method.afterStep → metrics, checkpoints, signals.
import type { Logger as PinoLogger } from 'pino';
import { globalNormClip } from '../engine/clip.js';
import type { Optimizer } from '../engine/param-store.js';
import type { DataLoader } from '../data/loader.js';
import type { Logger } from '../loggers/logger.js';
import type { TrainingMethod } from '../methods/method.js';
import { UserError } from '../util/errors.js';
import type { Schedules } from './hyperparams.js';
import { Progress } from './progress.js';
import type { StopSignal } from './signals.js';

export interface TrainerOptions {
  method: TrainingMethod;
  optimizer: Optimizer;
  schedules: Schedules;
  loader: DataLoader;
  loggers: Logger;
  log: PinoLogger;
  batchSize: number;
  startStep: number;
  totalSteps: number;
  logEvery: number;
  clipGrad: number;
  /** writes checkpoints/last (and step-N when due); `final` at the end of the run or on a signal */
  checkpoint(step: number, epoch: number, batchInEpoch: number, final: boolean): Promise<void>;
  checkpointEvery?: number;
  /** called after the step's checkpoint, e.g. for periodic exports / evals */
  afterStep?(step: number): Promise<void>;
  stop: StopSignal;
}

export interface TrainResult {
  steps: number;
  stoppedBy: NodeJS.Signals | null;
  lastLoss: number;
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

export async function train(o: TrainerOptions): Promise<TrainResult> {
  const progress = new Progress(o.startStep);
  const every = o.checkpointEvery ?? 0;
  let lastLoss = NaN;
  let windowStart = performance.now();
  let windowImages = 0;
  let windowWait = 0;
  let step = o.startStep;
  let epoch = 0;
  let batchInEpoch = 0;

  for (; step < o.totalSteps; ) {
    const batch = await o.loader.next();
    epoch = batch.epoch;
    batchInEpoch = batch.batch + 1;
    const s = o.schedules.at(step);
    const r = await o.method.forwardBackward(batch, s);
    if (!Number.isFinite(r.loss)) throw new NonFiniteLossError(step, r.loss, r.parts);

    const frozen = new Set(o.method.frozenAt(step));
    for (const name of o.method.params.names) o.optimizer.setFrozen(name, frozen.has(name));
    const clip = o.clipGrad > 0 ? globalNormClip(o.method.grads.flat, o.clipGrad) : { norm: NaN, coef: 1 };
    const gradNorm = clip.norm;
    o.optimizer.lr = s.lr;
    o.optimizer.weightDecay = s.weightDecay;
    o.optimizer.step(o.method.grads.flat, clip.coef);
    o.method.afterStep(s);
    step++;
    lastLoss = r.loss;

    windowImages += batch.size;
    windowWait += batch.waitMs;
    const now = performance.now();
    const imagesPerSec = (windowImages * 1000) / Math.max(1, now - windowStart);
    progress.update({ step, total: o.totalSteps, loss: r.loss, imagesPerSec });
    if (step % o.logEvery === 0 || step === o.totalSteps) {
      const metrics: Record<string, number> = {
        epoch: batch.epoch,
        loss: r.loss,
        ...r.parts,
        lr: s.lr,
        wd: s.weightDecay,
        ...(s.momentum ? { momentum: s.momentum } : {}),
        ...(s.teacherTemp ? { teacher_temp: s.teacherTemp } : {}),
        ...(Number.isFinite(gradNorm) ? { grad_norm: gradNorm } : {}),
        images_per_s: imagesPerSec,
        data_wait: windowWait / Math.max(1, now - windowStart),
        rss_mb: process.memoryUsage.rss() / 2 ** 20,
      };
      o.loggers.scalars(step, metrics);
      progress.clear();
      o.log.info({ step, ...round(metrics) }, `step ${step}/${o.totalSteps} loss ${r.loss.toFixed(4)} ${imagesPerSec.toFixed(1)} img/s`);
      windowStart = now;
      windowImages = 0;
      windowWait = 0;
    }
    const stopping = o.stop.signal !== null;
    if ((every > 0 && step % every === 0) || stopping || step === o.totalSteps) {
      await o.checkpoint(step, epoch, batchInEpoch, stopping || step === o.totalSteps);
    }
    await o.afterStep?.(step);
    if (stopping) break;
  }
  progress.done();
  return { steps: step, stoppedBy: o.stop.signal, lastLoss };
}

function round(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[k] = Number.isInteger(v) ? v : Number(v.toPrecision(5));
  return out;
}
