// The pretrain config: every setting a run has, with its type, range and default.
import { z } from 'zod';
import { devices } from '../engine/providers.js';
import { optimSchema } from './optim.js';
import { transformsSchema } from './transforms.js';
import { loggersConfigSchema } from '../loggers/config.js';
import { defaultLoggerNames, loggerNames } from '../loggers/logger.js';

const posInt = z.number().int().positive();

export const pretrainSchema = z
  .object({
    data: z.string().min(1),
    out: z.string().min(1),
    /** one of methods/index.ts METHODS (checked with the method's own method_args schema in config/load.ts) */
    method: z.string().min(1),
    model: z.string().min(1),
    /** architecture overrides of the named model (small models for tests and quick experiments) */
    model_args: z
      .object({
        embed_dim: posInt.optional(),
        depth: posInt.optional(),
        num_heads: posInt.optional(),
        layer_scale: z.number().positive().optional(),
        num_registers: z.number().int().min(0).optional(),
        width: posInt.optional(),
      })
      .strict()
      .default({}),
    /** Stop after this many epochs (passes over the data) ... */
    epochs: posInt.optional(),
    /** ... or after this many optimizer steps; whichever is given (steps wins when both are). */
    steps: posInt.optional(),
    batch_size: posInt,
    seed: z.number().int().min(0),
    num_workers: posInt.describe('images decoded concurrently'),
    /** worker threads that augment views while the model computes; 0 = on the main thread, between steps */
    augment_workers: z.union([z.literal('auto'), z.number().int().min(0)]),
    prefetch_batches: posInt,
    /** images larger than this many pixels (width x height) are skipped and counted, like unreadable ones */
    max_image_pixels: posInt,
    /** the estimated peak memory of the decodes in flight together, in MiB: large images decode fewer at a time */
    decode_memory_mb: posInt,
    checkpoint_every: posInt.optional(),
    export_every: posInt.optional(),
    log_every: posInt,
    resume: z.boolean(),
    overwrite: z.boolean(),
    device: z.enum(devices),
    /** intra-op threads per process (default: the machine's cores shared by the processes running on it) */
    threads: posInt.optional(),
    /** processes of a data-parallel job on this machine, started with mpiexec (a job already under a launcher ignores it) */
    processes: posInt,
    drop_path_rate: z.number().min(0).max(1),
    init_weights: z.string().optional(),
    val_data: z
      .object({ train: z.string().min(1), val: z.string().min(1), every: posInt.default(500), k: posInt.default(20) })
      .strict()
      .optional(),
    method_args: z.record(z.string(), z.unknown()),
    optim: optimSchema,
    transforms: transformsSchema,
    loggers: loggersConfigSchema.extend({
      /** which loggers run (--loggers) */
      enabled: z.array(z.enum(loggerNames)).default([...defaultLoggerNames]),
    }),
  })
  .strict();

export type PretrainConfig = z.infer<typeof pretrainSchema>;
