// The training loop: batches through trainStep, metrics every log_every steps, checkpoints, periodic work,
// signals. It knows nothing of methods or files: the run hands it what to call.
import type { Logger as PinoLogger } from 'pino';
import type { Batch, DataLoader } from '../data/loader.js';
import type { Communicator } from '../distributed/communicator.js';
import type { Logger } from '../loggers/logger.js';
import { Progress } from './progress.js';
import type { StopSignal } from './signals.js';
import { type StepOutcome, trainStep, type Training } from './training.js';

export interface LoopOptions {
  training: Training;
  loader: Pick<DataLoader, 'next'>;
  /** the batch the run already drew to check the data is readable; the loop starts with it */
  firstBatch?: Batch;
  loggers: Logger;
  log: PinoLogger;
  startStep: number;
  totalSteps: number;
  logEvery: number;
  checkpointEvery?: number;
  /** writes checkpoints/last (and step-N when due) */
  checkpoint(step: number, epoch: number, batchInEpoch: number): Promise<void>;
  /** after the step's checkpoint, e.g. periodic exports and evals */
  afterStep?(step: number): Promise<void>;
  stop: StopSignal;
  /** images per step of the whole job (the global batch) */
  imagesPerStep: number;
}

export interface LoopResult {
  steps: number;
  stoppedBy: NodeJS.Signals | null;
  lastLoss: number;
}

export async function trainLoop(o: LoopOptions): Promise<LoopResult> {
  const progress = new Progress(o.startStep);
  const every = o.checkpointEvery ?? 0;
  const window = { start: performance.now(), images: 0, waitMs: 0 };
  let lastLoss = NaN;
  let step = o.startStep;
  let pending = o.firstBatch;
  try {
    while (step < o.totalSteps) {
      const batch = pending ?? (await o.loader.next());
      pending = undefined;
      const r = await trainStep(o.training, batch, step);
      step++;
      lastLoss = r.loss;
      window.images += o.imagesPerStep;
      window.waitMs += batch.waitMs;
      const now = performance.now();
      const imagesPerSec = (window.images * 1000) / Math.max(1, now - window.start);
      progress.update({ step, total: o.totalSteps, loss: r.loss, imagesPerSec, epoch: batch.epoch });
      if (step % o.logEvery === 0 || step === o.totalSteps) {
        const metrics = stepMetrics(r, batch.epoch, imagesPerSec, window.waitMs / Math.max(1, now - window.start));
        o.loggers.scalars(step, metrics);
        progress.clear();
        o.log.info({ step, ...round(metrics) }, `step ${step}/${o.totalSteps} loss ${r.loss.toFixed(4)} ${imagesPerSec.toFixed(1)} img/s`);
        Object.assign(window, { start: now, images: 0, waitMs: 0 });
      }
      const stopping = stopRequested(o.training.comm, o.stop.signal !== null);
      if ((every > 0 && step % every === 0) || stopping || step === o.totalSteps) {
        progress.clear();
        await o.checkpoint(step, batch.epoch, batch.batch + 1);
      }
      if (o.afterStep) {
        progress.clear();
        await o.afterStep(step);
      }
      if (stopping) break;
    }
  } finally {
    progress.done();
  }
  return { steps: step, stoppedBy: o.stop.signal ?? (step < o.totalSteps ? 'SIGTERM' : null), lastLoss };
}

/** Whether any process of the job was asked to stop: every rank decides alike, after the same step. */
function stopRequested(comm: Communicator, here: boolean): boolean {
  if (comm.size === 1) return here;
  const flag = Int32Array.of(here ? 1 : 0);
  comm.allreduceMax(flag);
  return flag[0] === 1;
}

/** The logged row: loss and its parts, the schedules' values, the gradient norm, speed and memory. */
function stepMetrics(r: StepOutcome, epoch: number, imagesPerSec: number, dataWait: number): Record<string, number> {
  return {
    epoch,
    loss: r.loss,
    ...r.parts,
    lr: r.scalars.lr,
    wd: r.scalars.weightDecay,
    ...r.scalars.method,
    ...(Number.isFinite(r.gradNorm) ? { grad_norm: r.gradNorm } : {}),
    ...r.times,
    images_per_s: imagesPerSec,
    data_wait: dataWait,
    rss_mb: process.memoryUsage.rss() / 2 ** 20,
  };
}

function round(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) out[k] = Number.isInteger(v) ? v : Number(v.toPrecision(5));
  return out;
}
