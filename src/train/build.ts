// A run, built: every check done, every object made, the checkpoint restored, the first batch drawn, and nothing
// written yet. A failure here leaves the output folder exactly as it was.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PretrainConfig } from '../config/schema.js';
import { autoAugmentWorkers } from '../data/augment-pool.js';
import { type Batch, DataLoader } from '../data/loader.js';
import { describeSkippedFolders, type ImageFileList, scanImageFolder } from '../data/scan.js';
import type { Communicator } from '../distributed/communicator.js';
import { assertSameOnAllRanks } from '../distributed/same-on-all-ranks.js';
import { shareFromRankZero } from '../distributed/share-from-rank-zero.js';
import { defaultThreads, type DeviceChoice, resolveDevice } from '../engine/providers.js';
import { parseLoggerNames } from '../loggers/create.js';
import { resolveWandbEnv } from '../loggers/wandb-env.js';
import type { MethodDefinition } from '../methods/definition.js';
import { methodNamed } from '../methods/index.js';
import { type LoadedCheckpoint, loadCheckpoint, parseCheckpoint } from './checkpoint.js';
import { createOptimizer, Schedules } from './hyperparams.js';
import { applyInitWeights } from './init-weights.js';
import { checkOutDir, type OutDir } from './out-dir.js';
import { createPeriodicEval, type PeriodicEval } from './periodic-eval.js';
import { resumeFrom } from './resume.js';
import { checkedModel, optimOf, resolveConfig, type RunShape, runShape } from './setup.js';
import type { Training } from './training.js';

/** A checkpoint read by rank 0 (recovered after a crash if need be) and parsed by every rank from the same bytes. */
async function loadCheckpointOnRanks(comm: Communicator, dir: string): Promise<LoadedCheckpoint> {
  let onZero: LoadedCheckpoint | undefined;
  const [model, optimizer, state] = await shareFromRankZero(comm, async () => {
    onZero = await loadCheckpoint(dir);
    return [onZero.files.model, onZero.files.optimizer, onZero.files.state];
  });
  return onZero ?? parseCheckpoint(dir, { model, optimizer, state });
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Something to say once the run's log is open. */
export interface Note {
  level: 'info' | 'warn';
  message: string;
  fields?: Record<string, unknown>;
}

export interface BuiltRun {
  /** the resolved config (every 'auto' and optimizer value filled in): what config.json records */
  cfg: PretrainConfig;
  definition: MethodDefinition;
  files: ImageFileList;
  shape: RunShape;
  device: DeviceChoice;
  threads: number;
  training: Training;
  loader: DataLoader;
  /** the first batch of the run (drawn to fail early on unreadable data), or none when the run is already done */
  firstBatch?: Batch;
  /** where the run starts: 0, or the checkpoint's step */
  startStep: number;
  checkpoint?: LoadedCheckpoint;
  knn: PeriodicEval;
  out: OutDir;
  notes: Note[];
  /** where warnings raised while training (an unreadable image) go from now on; until then they are notes */
  sendWarningsTo(sink: (message: string) => void): void;
  release(): Promise<void>;
}

export interface BuildOptions {
  comm: Communicator;
  /** the --config file, an input --overwrite must not delete */
  configFile?: string;
}

/** The output folder of a rank that writes nothing (every rank but 0 in a data-parallel job). */
const NO_OUTPUT: OutDir = { prepare: () => [], commit: () => {}, undo: () => {} };

export async function buildRun(given: PretrainConfig, opts: BuildOptions): Promise<BuiltRun> {
  const { comm } = opts;
  const definition = methodNamed(given.method);
  const writes = comm.rank === 0;
  const out = !writes ? NO_OUTPUT : checkOutDir(given.out, {
    resume: given.resume,
    overwrite: given.overwrite,
    inputs: {
      '--data': given.data,
      'val_data.train': given.val_data?.train,
      'val_data.val': given.val_data?.val,
      '--init-weights': given.init_weights,
      '--config': opts.configFile,
      ...definition.inputs?.(given.method_args),
    },
  });
  const device = resolveDevice(given.device);
  const threads = given.threads ?? defaultThreads(comm.localSize);
  checkedModel(given, definition);
  const files = await scanImageFolder(given.data);
  const shape = runShape(given, files.length, given.data, comm.size);
  const cfg = resolveConfig(given, shape, definition);
  // every rank trains the same thing: the same settings on the same images
  assertSameOnAllRanks(comm, 'the config', hashOf(JSON.stringify({ ...cfg, threads: undefined })));
  assertSameOnAllRanks(comm, 'the list of images', hashOf(Array.from({ length: files.length }, (_, i) => files.relativePath(i)).join('\n')));
  if (writes && parseLoggerNames(cfg.loggers.enabled).includes('wandb')) resolveWandbEnv(process.env);
  const knn = await createPeriodicEval(writes ? cfg : { ...cfg, val_data: undefined }, definition.exportPart);
  const checkpoint = cfg.resume ? await loadCheckpointOnRanks(comm, join(cfg.out, 'checkpoints', 'last')) : undefined;

  const notes: Note[] = [];
  const unreadFolders = describeSkippedFolders(files.skippedFolders);
  if (unreadFolders) notes.push({ level: 'warn', message: unreadFolders });
  let warn: (message: string) => void = (message) => void notes.push({ level: 'warn', message });
  const method = definition.create({ cfg, session: { providers: device.providers, threads }, comm });
  let loader: DataLoader | undefined;
  try {
    await method.init();
    for (const message of method.notes ?? []) notes.push({ level: 'info', message });
    const optim = optimOf(cfg);
    const optimizer = createOptimizer(optim, method.params);
    const schedules = new Schedules(optim, shape.totalSteps, cfg.batch_size, definition.schedules?.(cfg.method_args, shape.totalSteps));
    const training: Training = { method, optimizer, schedules, clipGrad: optim.clip_grad, comm };

    let startStep = 0;
    let start = { epoch: 0, batch: 0 };
    if (checkpoint) {
      const report = resumeFrom(checkpoint, cfg, shape, method, optimizer);
      startStep = checkpoint.state.step;
      start = { epoch: checkpoint.state.epoch, batch: Number(checkpoint.state.batchInEpoch ?? 0) };
      notes.push({ level: 'info', message: `resuming from ${checkpoint.dir} at step ${startStep}`, fields: { step: startStep, epoch: start.epoch } });
      if (report.changed.length) notes.push({ level: 'info', message: `settings changed since the checkpoint: ${report.changed.join('; ')}` });
      const before = checkpoint.state.processes ?? 1;
      if (before !== comm.size) {
        notes.push({ level: 'info', message: `the checkpoint was written by a job of ${before} process(es), this one has ${comm.size}: same global batch, each process takes ${cfg.batch_size / comm.size} images of it` });
      }
    } else if (cfg.init_weights) {
      const [bytes] = await shareFromRankZero(comm, async () => [await readFile(cfg.init_weights!)].map((b) => new Uint8Array(b)));
      const r = await applyInitWeights(method, cfg.init_weights, (message) => notes.push({ level: 'warn', message }), bytes);
      notes.push({ level: 'info', message: `backbone initialised from ${cfg.init_weights} (${r.loaded} tensors)`, fields: { initWeights: cfg.init_weights, tensors: r.loaded } });
    }

    loader = new DataLoader({
      files,
      transforms: cfg.transforms,
      batchSize: cfg.batch_size,
      seed: cfg.seed,
      prefetch: cfg.prefetch_batches,
      concurrency: cfg.num_workers,
      maxImagePixels: cfg.max_image_pixels,
      decodeMemoryBytes: cfg.decode_memory_mb * 2 ** 20,
      augmentWorkers: cfg.augment_workers === 'auto' ? autoAugmentWorkers(undefined, device.device === 'cuda') : cfg.augment_workers,
      start,
      part: { index: comm.rank, count: comm.size },
      masks: definition.loader?.(cfg, method.model).masks,
      onWarning: (message) => warn(message),
    });
    const firstBatch = startStep < shape.totalSteps ? await loader.next() : undefined;
    const l = loader;
    return {
      cfg, definition, files, shape, device, threads, training, loader: l, firstBatch, startStep, checkpoint, knn, out, notes,
      sendWarningsTo: (sink) => (warn = sink),
      release: async () => {
        await l.close();
        await method.release();
      },
    };
  } catch (err) {
    await loader?.close().catch(() => {});
    await method.release().catch(() => {});
    throw err;
  }
}
