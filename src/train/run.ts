// `dinotrain pretrain`, assembled: output folder, logs, data, method, optimizer, loggers, resume, the loop, export.
import os from 'node:os';
import { join } from 'node:path';
import type { PretrainConfig } from '../config/schema.js';
import { autoAugmentWorkers } from '../data/augment-pool.js';
import { DataLoader } from '../data/loader.js';
import { renderPreviewGrid } from '../data/preview-grid.js';
import { scanImageFolder } from '../data/scan.js';
import { defaultThreads, resolveDevice } from '../engine/providers.js';
import { writeBackboneOnnx, writeBackboneSafetensors } from '../export/backbone-files.js';
import { formatVerifyReport } from '../export/verify.js';
import type { Logger as PinoLogger } from 'pino';
import { applyInitWeights } from './init-weights.js';
import { createPeriodicEval } from './periodic-eval.js';
import { createLoggers } from '../loggers/create.js';
import type { Logger } from '../loggers/logger.js';
import { createMethod } from '../methods/registry.js';
import { loaderMasks } from '../methods/dinov2.js';
import type { TrainingMethod } from '../methods/method.js';
import { getModel } from '../models/registry.js';
import { modelOverrides } from '../models/overrides.js';
import { createLog, type LogFormat } from '../util/log.js';
import { dinotrainVersion, packageVersion } from '../util/version.js';
import { checkCompatible, loadCheckpoint, saveCheckpoints } from './checkpoint.js';
import { createOptimizer, resolveOptim, Schedules } from './hyperparams.js';
import { checkOutDir } from './out-dir.js';
import { StopSignal } from './signals.js';
import { train } from './trainer.js';
import { writeFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';

export interface RunOptions {
  logFormat?: LogFormat;
}

export async function runPretrain(cfg: PretrainConfig, opts: RunOptions = {}): Promise<void> {
  const prepareOut = checkOutDir(cfg.out, { resume: cfg.resume, overwrite: cfg.overwrite, data: cfg.data });
  const device = resolveDevice(cfg.device);
  const threads = cfg.threads ?? defaultThreads();
  const files = await scanImageFolder(cfg.data);
  const model = getModel(cfg.model, modelOverrides(cfg.model_args, { maskToken: cfg.method === 'dinov2' }));
  if (model.patchSize) {
    for (const [name, size] of [['global', cfg.transforms.global.size], ['local', cfg.transforms.local.size]] as const) {
      if ((name === 'global' || cfg.transforms.local.count > 0) && size % model.patchSize !== 0) {
        throw new UserError(
          `transforms.${name}.size: ${size} px is not a multiple of ${model.name}'s patch size ${model.patchSize}`,
        );
      }
    }
  }
  const batchesPerEpoch = Math.floor(files.length / cfg.batch_size);
  if (batchesPerEpoch === 0) {
    throw new UserError(`batch_size: ${cfg.batch_size} is larger than the dataset (${files.length} images in ${cfg.data}); use a smaller --batch-size`);
  }
  const totalSteps = cfg.steps ?? (cfg.epochs ?? 1) * batchesPerEpoch;
  const method = await createMethod(cfg.method, { cfg, datasetSize: files.length, totalSteps, session: { providers: device.providers, threads } });

  // every check has passed: only now is the output folder cleared (--overwrite) and written
  prepareOut();
  const log = createLog({ file: join(cfg.out, 'train.log'), format: opts.logFormat });
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
      totalSteps,
    },
    `dinotrain ${dinotrainVersion}: ${cfg.method} on ${model.name}, ${files.length} images in ${cfg.data}, ${totalSteps} steps, ` +
      `batch ${cfg.batch_size}, device ${device.device} (${device.reason}), ${threads} threads`,
  );

  log.debug({ config: cfg }, 'resolved config');
  writeFileSync(join(cfg.out, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  const optim = resolveOptim(cfg, totalSteps, Math.max(1, batchesPerEpoch));
  const optimizer = createOptimizer(optim, method.params);
  const schedules = new Schedules(optim, totalSteps, cfg.batch_size, cfg.method_args as Record<string, number>);

  let startStep = 0;
  let start = { epoch: 0, batch: 0 };
  if (cfg.resume) {
    const ck = await loadCheckpoint(join(cfg.out, 'checkpoints', 'last'));
    checkCompatible(ck.state.config, cfg);
    method.loadStateTensors(ck.tensors as never);
    optimizer.importState(ck.optimizer as never);
    startStep = ck.state.step;
    start = { epoch: ck.state.epoch, batch: Number(ck.state.batchInEpoch ?? 0) };
    log.info({ step: startStep, epoch: start.epoch }, `resuming from ${ck.dir} at step ${startStep}`);
  } else if (cfg.init_weights) {
    const r = await applyInitWeights(method, cfg.init_weights, (m) => log.warn(m));
    log.info({ initWeights: cfg.init_weights, tensors: r.loaded }, `backbone initialised from ${cfg.init_weights} (${r.loaded} tensors)`);
  }
  const periodicEval = await createPeriodicEval(cfg, log);
  log.info({ parameters: method.params.size }, `${method.params.size.toLocaleString('en-US')} trainable parameters`);

  let loggers: Logger | undefined;
  const loader = new DataLoader({
    files,
    transforms: cfg.transforms,
    batchSize: cfg.batch_size,
    seed: cfg.seed,
    prefetch: cfg.prefetch_batches,
    concurrency: cfg.num_workers,
    augmentWorkers: cfg.augment_workers === 'auto' ? autoAugmentWorkers(undefined, device.device === 'cuda') : cfg.augment_workers,
    start,
    masks: loaderMasks(cfg),
    onWarning: (m) => log.warn(m),
  });
  const stop = new StopSignal((sig) => log.warn(`${sig} received: finishing this step and writing a checkpoint (send again to quit at once)`));
  try {
    loggers = await createLoggers(cfg.loggers.enabled, {
      outDir: cfg.out,
      // metrics are logged under the count of completed steps, so the resumed run's first row is startStep + 1
      resumeStep: cfg.resume ? startStep + 1 : undefined,
      wandb: cfg.loggers.wandb,
      onWarning: (m) => log.warn(m),
      onInfo: (m) => log.info(m),
    });
    await loggers.hparams(cfg as unknown as Record<string, unknown>);
    if (startStep === 0) {
      try {
        const png = await renderPreviewGrid({ data: files, method: cfg.method, transforms: cfg.transforms, seed: cfg.seed, images: 4 });
        loggers.image('augmented_views', 0, png);
      } catch (e) {
        log.warn(`could not render the augmented-views image: ${(e as Error).message}`);
      }
    }
    const exportDir = join(cfg.out, 'exported_models');
    const doExport = async () => exportBackbone(method, cfg, exportDir, log);
    const result = await train({
      method,
      optimizer,
      schedules,
      loader,
      loggers,
      log,
      batchSize: cfg.batch_size,
      startStep,
      totalSteps,
      logEvery: cfg.log_every,
      clipGrad: optim.clip_grad,
      checkpointEvery: cfg.checkpoint_every,
      stop,
      checkpoint: async (step, epoch, batchInEpoch) => {
        const written = await saveCheckpoints(
          join(cfg.out, 'checkpoints'),
          {
            tensors: method.stateTensors(),
            optimizer: optimizer.exportState(),
            state: { step, epoch, batchInEpoch, config: cfg, schedules: { ...schedules.at(Math.max(0, step - 1)) } },
          },
          cfg.checkpoint_every ?? 0,
        );
        log.info({ step, checkpoints: written }, `checkpoint written at step ${step}`);
      },
      afterStep: async (step) => {
        if (cfg.export_every && step % cfg.export_every === 0 && step < totalSteps) await doExport();
        const knn = await periodicEval.maybeRun(step, method);
        if (knn) loggers!.scalars(step, knn);
      },
    });
    const stats = loader.stats();
    if (stats.skippedFiles > 0) log.warn(`${stats.skippedFiles} unreadable image file(s) were skipped (named above)`);
    if (result.stoppedBy) {
      log.warn(`stopped by ${result.stoppedBy} at step ${result.steps}; continue with: dinotrain pretrain ... --out ${cfg.out} --resume`);
      process.exitCode = result.stoppedBy === 'SIGINT' ? 130 : 143;
      return;
    }
    if (periodicEval.every && result.steps % periodicEval.every !== 0) {
      const knn = await periodicEval.run(result.steps, method);
      if (knn) loggers.scalars(result.steps, knn);
    }
    const paths = await doExport();
    log.info(
      `done: ${result.steps} steps, last loss ${result.lastLoss.toFixed(4)}. Backbone: ${paths.onnx} (ONNX) and ${paths.safetensors} ` +
        `(timm/torchvision names). Embed images: dinotrain embed --model ${paths.onnx} --data DIR --out embeddings.csv`,
    );
  } finally {
    stop.dispose();
    await loader.close();
    await loggers?.close();
    await method.release();
  }
}

async function exportBackbone(method: TrainingMethod, cfg: PretrainConfig, dir: string, log: PinoLogger) {
  const model = method.model;
  const weights = method.backbone(method.defaultExportPart);
  const paths = { onnx: join(dir, 'backbone.onnx'), safetensors: join(dir, 'backbone.safetensors') };
  await writeBackboneSafetensors(paths.safetensors, model, weights, cfg.method);
  const report = await writeBackboneOnnx(paths.onnx, model, weights, {
    imageSize: cfg.transforms.global.size,
    method: cfg.method,
    mean: cfg.transforms.normalize.mean,
    std: cfg.transforms.normalize.std,
    part: method.defaultExportPart,
    modelArgs: cfg.model_args,
    threads: cfg.threads,
  });
  log.info(`exported ${paths.onnx}${report ? `: ${formatVerifyReport(report)}` : ''}`);
  return paths;
}
