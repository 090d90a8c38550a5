// Everything a run checks and decides before it builds anything: the method and model, the view sizes, the data and
// the run length, every 'auto' setting and the optimizer's values. Each invariant is checked here, once.
import type { OptimDefaults } from '../config/optim.js';
import { resolveOptim } from '../config/optim.js';
import type { PretrainConfig } from '../config/schema.js';
import type { MethodDefinition, RunSize } from '../methods/definition.js';
import { methodNamed } from '../methods/index.js';
import type { BackboneModel } from '../models/registry.js';
import { UserError } from '../util/errors.js';

export interface RunShape extends RunSize {
  batchesPerEpoch: number;
}

/**
 * Steps per epoch and the run length; a UserError when the batch is larger than the dataset or does not split into
 * equal parts for the processes of a job.
 */
export function runShape(cfg: PretrainConfig, images: number, root: string, processes = 1): RunShape {
  if (cfg.batch_size % processes !== 0) {
    throw new UserError(`batch_size: ${cfg.batch_size} images do not split equally over ${processes} processes; use a multiple of ${processes}`);
  }
  const batchesPerEpoch = Math.floor(images / cfg.batch_size);
  if (batchesPerEpoch === 0) {
    throw new UserError(`batch_size: ${cfg.batch_size} is larger than the dataset (${images} images in ${root}); use a smaller --batch-size`);
  }
  const totalSteps = cfg.steps ?? (cfg.epochs ?? 1) * batchesPerEpoch;
  return { images, batchSize: cfg.batch_size, totalSteps, batchesPerEpoch };
}

/** A ViT's views must tile into patches: the global crops always, the local ones when there are any. */
export function checkViewSizes(cfg: PretrainConfig, model: BackboneModel): void {
  if (!model.patchSize) return;
  const { global, local } = cfg.transforms;
  for (const [name, size, used] of [['global', global.size, true], ['local', local.size, local.count > 0]] as const) {
    if (used && size % model.patchSize !== 0) {
      throw new UserError(`transforms.${name}.size: ${size} px is not a multiple of ${model.name}'s patch size ${model.patchSize}`);
    }
  }
}

/** The method's model for this config, after every check the method and the views need. */
export function checkedModel(cfg: PretrainConfig, method: MethodDefinition = methodNamed(cfg.method)): BackboneModel {
  const model = method.model(cfg);
  checkViewSizes(cfg, model);
  method.check?.(cfg, model);
  return model;
}

/**
 * The config with every 'auto' of `method_args` resolved for this run and `optim` holding every optimizer value
 * (the method's defaults under the config's keys): what the run trains with and what config.json records.
 */
export function resolveConfig(cfg: PretrainConfig, run: RunShape, method: MethodDefinition = methodNamed(cfg.method)): PretrainConfig {
  const args = method.resolve ? method.resolve(cfg.method_args, run, cfg) : cfg.method_args;
  const optim: OptimDefaults = resolveOptim(method.optim, cfg.optim, run.totalSteps, run.batchesPerEpoch);
  return { ...cfg, method_args: args, optim };
}

/** The run's resolved optimizer settings (resolveConfig put every one of them in `optim`). */
export const optimOf = (cfg: PretrainConfig): OptimDefaults => cfg.optim as OptimDefaults;
