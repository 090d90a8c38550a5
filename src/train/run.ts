// `dinotrain pretrain`: build (every check, nothing written) -> start the outputs -> the loop -> finish (export,
// the last kNN eval, the closing line). Cleanup never hides the error that stopped the run.
import { join } from 'node:path';
import type { PretrainConfig } from '../config/schema.js';
import type { Communicator } from '../distributed/communicator.js';
import { SingleProcessCommunicator } from '../distributed/single-process.js';
import { FanoutLogger } from '../loggers/fanout.js';
import type { Logger } from '../loggers/logger.js';
import { createLog, type LogFormat } from '../util/log.js';
import { type BuiltRun, buildRun } from './build.js';
import { saveCheckpoints } from './checkpoint.js';
import { exportBackbone } from './export-backbone.js';
import { type LoopResult, trainLoop } from './loop.js';
import { startOutput } from './output.js';
import { StopSignal } from './signals.js';

export interface RunOptions {
  logFormat?: LogFormat;
  /** the --config file (an input --overwrite must not delete) */
  configFile?: string;
  comm?: Communicator;
}

export async function runPretrain(given: PretrainConfig, opts: RunOptions = {}): Promise<void> {
  const comm = opts.comm ?? new SingleProcessCommunicator();
  // in a data-parallel job rank 0 logs and writes everything; the other ranks say only what goes wrong
  const writes = comm.rank === 0;
  const log = createLog({ format: opts.logFormat, level: writes ? 'debug' : 'warn' });
  const b = await buildRun(given, { comm, configFile: opts.configFile });
  const stop = new StopSignal((sig) => writes && log.warn(`${sig} received: finishing this step and writing a checkpoint (send again to quit at once)`));
  let loggers: Logger | undefined;
  let failure: unknown;
  try {
    loggers = writes ? await startOutput(b, log) : new FanoutLogger([], (m) => log.warn(m));
    const result = await loop(b, loggers, log, stop, writes);
    if (writes) await finish(b, result, loggers, log);
    else if (result.stoppedBy) process.exitCode = result.stoppedBy === 'SIGINT' ? 130 : 143;
  } catch (err) {
    failure = err;
  }
  stop.dispose();
  for (const close of [() => b.release(), () => loggers?.close()]) {
    try {
      await close();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure) throw failure;
}

function loop(b: BuiltRun, loggers: Logger, log: ReturnType<typeof createLog>, stop: StopSignal, writes: boolean): Promise<LoopResult> {
  const { cfg, training, definition } = b;
  const { comm } = training;
  const exportEvery = cfg.export_every;
  return trainLoop({
    training,
    loader: b.loader,
    firstBatch: b.firstBatch,
    loggers,
    log,
    startStep: b.startStep,
    totalSteps: b.shape.totalSteps,
    logEvery: cfg.log_every,
    checkpointEvery: cfg.checkpoint_every,
    stop,
    imagesPerStep: cfg.batch_size,
    checkpoint: async (step, epoch, batchInEpoch) => {
      if (!writes) return;
      const s = training.schedules.at(Math.max(0, step - 1));
      const written = await saveCheckpoints(
        join(cfg.out, 'checkpoints'),
        {
          tensors: training.method.stateTensors(),
          optimizer: training.optimizer.exportState(),
          state: {
            step, epoch, batchInEpoch, config: cfg, images: b.files.length, processes: comm.size,
            schedules: { lr: s.lr, weightDecay: s.weightDecay, ...s.method },
          },
        },
        cfg.checkpoint_every ?? 0,
      );
      log.info({ step, checkpoints: written }, `checkpoint written at step ${step}`);
    },
    afterStep: async (step) => {
      if (!writes) return;
      if (exportEvery && step % exportEvery === 0 && step < b.shape.totalSteps) await exportBackbone(training.method, definition.exportPart, cfg, log);
      const knn = await b.knn.maybeRun(step, training.method, log);
      if (knn) loggers.scalars(step, knn);
    },
  });
}

/** This command line as it continues its run: --overwrite dropped, --out named, --resume added. */
export function resumeCommand(out: string, argv = process.argv.slice(2)): string {
  const args = argv.filter((a) => a !== '--overwrite' && a !== '--resume');
  if (!args.some((a) => a === '--out' || a.startsWith('--out='))) args.push('--out', out);
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['dinotrain', ...args, '--resume'].map(quote).join(' ');
}

async function finish(b: BuiltRun, result: LoopResult, loggers: Logger, log: ReturnType<typeof createLog>): Promise<void> {
  const { cfg, training, definition } = b;
  const skipped = b.loader.stats().skippedFiles;
  if (skipped > 0) log.warn(`${skipped} unreadable image file(s) were skipped (named above)`);
  if (result.stoppedBy) {
    log.warn(`stopped by ${result.stoppedBy} at step ${result.steps}; continue with: ${resumeCommand(cfg.out)}`);
    process.exitCode = result.stoppedBy === 'SIGINT' ? 130 : 143;
    return;
  }
  if (b.knn.every && result.steps % b.knn.every !== 0) {
    const knn = await b.knn.run(result.steps, training.method, log);
    if (knn) loggers.scalars(result.steps, knn);
  }
  const paths = await exportBackbone(training.method, definition.exportPart, cfg, log);
  log.info(
    `done: ${result.steps} steps, last loss ${result.lastLoss.toFixed(4)}. Backbone: ${paths.onnx} (ONNX) and ${paths.safetensors} ` +
      `(timm/torchvision names). Embed images: dinotrain embed --model ${paths.onnx} --data DIR --out embeddings.csv`,
  );
}
