import { z } from 'zod';

export const wandbConfigSchema = z.strictObject({
  project: z.string().min(1).default('dinotrain').describe('W&B project'),
  entity: z.string().min(1).optional().describe('W&B user or team; default: the key owner\'s default entity'),
  name: z.string().min(1).optional().describe('run name; default: the name of the output directory'),
  tags: z.array(z.string().min(1).max(64)).default([]).describe('run tags'),
  group: z.string().min(1).optional().describe('run group'),
});

/** The `loggers` section of the config: settings per logger (which loggers run is --loggers). */
export const loggersConfigSchema = z.strictObject({
  jsonl: z.strictObject({}).prefault({}),
  tensorboard: z.strictObject({}).prefault({}),
  wandb: wandbConfigSchema.prefault({}),
});

export type WandbConfig = z.infer<typeof wandbConfigSchema>;
export type LoggersConfig = z.infer<typeof loggersConfigSchema>;
