// Resolves a pretrain config: method preset < config file (YAML/JSON) < command-line flags, then validates.
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { UserError } from '../util/errors.js';
import { formatIssues } from './errors.js';
import { deepMerge, isPlainObject } from './merge.js';
import { defaultModel, methodNames, type MethodName } from './methods.js';
import { methodArgsSchemas, pretrainSchema, type PretrainConfig } from './schema.js';
import { transformPresets } from './transforms.js';

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

function presetFor(method: MethodName): Record<string, unknown> {
  return {
    method,
    model: defaultModel[method],
    batch_size: 64,
    seed: 0,
    num_workers: 8,
    augment_workers: 'auto',
    prefetch_batches: 2,
    log_every: 10,
    resume: false,
    overwrite: false,
    device: 'auto',
    drop_path_rate: method === 'dinov2' ? 0.1 : 0,
    method_args: {},
    optim: {},
    transforms: transformPresets[method],
    loggers: {},
  };
}

/**
 * @param fileConfig parsed --config file ({} if none)
 * @param flags config keys set on the command line (undefined = not set)
 */
export function resolvePretrainConfig(fileConfig: Record<string, unknown>, flags: Record<string, unknown>): PretrainConfig {
  const method = (flags.method ?? fileConfig.method ?? 'dino') as MethodName;
  if (!methodNames.includes(method)) {
    throw new UserError(`method: unknown method '${String(method)}'; valid methods: ${methodNames.join(', ')}`);
  }
  const merged = deepMerge(deepMerge(presetFor(method), fileConfig), flags);
  const schema = pretrainSchema.extend({ method_args: methodArgsSchemas[method] });
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = formatIssues(result.error.issues, schema, merged);
    throw new UserError(`invalid config:\n  ${lines.join('\n  ')}`);
  }
  const cfg = result.data as PretrainConfig;
  if (cfg.epochs === undefined && cfg.steps === undefined) cfg.epochs = 100;
  return cfg;
}
