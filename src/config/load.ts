// Resolves a pretrain config: method preset < config file (YAML/JSON) < command-line flags, then validates.
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import YAML from 'yaml';
import { DEFAULT_DECODE_MEMORY_BYTES, DEFAULT_MAX_IMAGE_PIXELS } from '../data/bounded-decode.js';
import { UserError } from '../util/errors.js';
import { formatIssues } from './errors.js';
import { DEFAULT_METHOD, methodNamed } from '../methods/index.js';
import type { MethodDefinition } from '../methods/definition.js';
import { deepMerge, isPlainObject } from './merge.js';
import { pretrainSchema, type PretrainConfig } from './schema.js';

export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UserError(`config file not found: ${path}`);
  const text = readFileSync(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new UserError(`config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed == null) return {};
  if (!isPlainObject(parsed)) throw new UserError(`config file ${path} must hold a mapping of keys to values`);
  return parsed;
}

/** Where a run goes when no --out is given: the first free runs/<method>-<n>. */
export function nextRunFolder(method: string, base = 'runs'): string {
  for (let n = 1; ; n++) {
    const dir = join(base, `${method}-${n}`);
    if (!existsSync(dir)) return dir;
  }
}

/** The defaults of the settings no method brings its own of (also shown by --help). */
export const RUN_DEFAULTS = {
  batch_size: 64,
  seed: 0,
  num_workers: 8,
  augment_workers: 'auto',
  prefetch_batches: 2,
  max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
  decode_memory_mb: DEFAULT_DECODE_MEMORY_BYTES / 2 ** 20,
  log_every: 10,
  resume: false,
  overwrite: false,
  device: 'auto',
  processes: 1,
  drop_path_rate: 0,
} as const;

/** The run length when neither steps nor epochs is set. */
export const DEFAULT_EPOCHS = 100;

function presetFor(method: MethodDefinition): Record<string, unknown> {
  return {
    method: method.name,
    model: method.defaultModel,
    ...RUN_DEFAULTS,
    method_args: {},
    optim: {},
    transforms: method.transforms,
    loggers: {},
    ...method.settings,
  };
}

/**
 * @param fileConfig parsed --config file ({} if none)
 * @param flags config keys set on the command line (undefined = not set)
 */
export function resolvePretrainConfig(fileConfig: Record<string, unknown>, flags: Record<string, unknown>): PretrainConfig {
  const method = methodNamed(String(flags.method ?? fileConfig.method ?? DEFAULT_METHOD));
  const merged = deepMerge(deepMerge(presetFor(method), fileConfig), flags);
  // --resume on the command line continues the run a config file with `overwrite: true` started
  if (flags.resume === true && flags.overwrite === undefined) merged.overwrite = false;
  if (merged.out === undefined) {
    if (merged.resume === true) throw new UserError('--resume needs --out: the folder of the run to continue');
    merged.out = nextRunFolder(method.name);
  }
  const schema = pretrainSchema.extend({ method_args: method.args });
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = formatIssues(result.error.issues, schema, merged);
    throw new UserError(`invalid config:\n  ${lines.join('\n  ')}`);
  }
  const cfg = result.data as PretrainConfig;
  if (cfg.epochs === undefined && cfg.steps === undefined) cfg.epochs = DEFAULT_EPOCHS;
  return cfg;
}
