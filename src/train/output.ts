// Opening a run's outputs, in an order that leaves the folder as it was when any of them fails: W&B (a rejected key)
// before the folder is touched; then the folder (the previous run moved aside with --overwrite), train.log,
// config.json, the metrics files and the augmented-views image; the previous run is deleted only when all started.
import os from 'node:os';
import { join } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { renderPreviewGrid } from '../data/preview-grid.js';
import { createLoggers } from '../loggers/create.js';
import type { FanoutLogger } from '../loggers/fanout.js';
import { logToFile } from '../util/log.js';
import { dinotrainVersion, packageVersion } from '../util/version.js';
import { FileWriteError, writeFileAtomic } from '../util/write-file.js';
import type { BuiltRun } from './build.js';
import { tidyCheckpointRoot } from './checkpoint.js';
import { describeOptimizer } from './hyperparams.js';
import { optimOf } from './setup.js';

export async function startOutput(b: BuiltRun, log: PinoLogger): Promise<FanoutLogger> {
  const { cfg } = b;
  const opts = {
    outDir: cfg.out,
    // metrics are logged under the count of completed steps, so a resumed run's first row is startStep + 1
    resumeStep: b.checkpoint ? b.startStep + 1 : undefined,
    wandb: cfg.loggers.wandb,
    onWarning: (m: string) => log.warn(m),
    onInfo: (m: string) => log.info(m),
  };
  const remote = await createLoggers(cfg.loggers.enabled, { ...opts, only: 'remote' });
  let files: FanoutLogger | undefined;
  try {
    await remote.hparams(cfg as unknown as Record<string, unknown>);
    const replaced = b.out.prepare();
    if (b.checkpoint) await tidyCheckpointRoot(join(cfg.out, 'checkpoints'));
    logToFile(log, join(cfg.out, 'train.log'));
    logStart(b, log, replaced);
    await writeFileAtomic(join(cfg.out, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`, { what: 'the config' });
    files = await createLoggers(cfg.loggers.enabled, { ...opts, only: 'files' });
    await files.hparams(cfg as unknown as Record<string, unknown>);
    if (b.startStep === 0) {
      try {
        files.image('augmented_views', 0, await renderPreviewGrid({ data: b.files, transforms: cfg.transforms, seed: cfg.seed, images: 4 }));
      } catch (e) {
        if (e instanceof FileWriteError) throw e;
        log.warn(`could not render the augmented-views image: ${(e as Error).message}`);
      }
    }
    b.out.commit();
    return remote.merge(files);
  } catch (err) {
    await files?.close().catch(() => {});
    await remote.close().catch(() => {});
    b.out.undo();
    throw err;
  }
}

/** The run's first lines: versions, device, data, length; then what the build had to say. */
function logStart(b: BuiltRun, log: PinoLogger, replaced: string[]): void {
  const { cfg, files, shape, device, threads, training } = b;
  log.info(
    {
      dinotrain: dinotrainVersion,
      node: process.versions.node,
      onnxruntime: packageVersion('onnxruntime-node'),
      sharp: packageVersion('sharp'),
      provider: device.providers[0],
      providerReason: device.reason,
      threads,
      cpus: os.cpus().length,
      images: files.length,
      totalSteps: shape.totalSteps,
    },
    `dinotrain ${dinotrainVersion}: ${cfg.method} on ${training.method.model.name}, ${files.length} images in ${cfg.data}, ` +
      `${shape.totalSteps} steps, batch ${cfg.batch_size}, device ${device.device} (${device.reason}), ${threads} threads` +
      `${training.comm.size > 1 ? ` x ${training.comm.size} processes` : ''}; writing to ${cfg.out}`,
  );
  if (replaced.length) log.info(`--overwrite: replacing the previous run in ${cfg.out} (${replaced.join(', ')})`);
  log.debug({ config: cfg }, 'resolved config');
  for (const n of b.notes.splice(0)) log[n.level](n.fields ?? {}, n.message);
  b.sendWarningsTo((m) => log.warn(m));
  if (b.knn.summary) log.info(b.knn.summary.fields, b.knn.summary.text);
  log.info({ parameters: training.method.params.size }, `${training.method.params.size.toLocaleString('en-US')} trainable parameters`);
  log.info(describeOptimizer(optimOf(cfg), cfg.batch_size, shape.totalSteps));
}
