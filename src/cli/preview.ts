// `dinotrain preview`: a PNG of the augmented views a method trains on, for a few images.
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { TransformPresetName } from '../config/transforms.js';
import { renderPreviewGrid } from '../data/preview-grid.js';
import { UserError } from '../util/errors.js';

const METHODS = ['dino', 'dinov2', 'simclr'] as const;

function intOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

/** The `method` and `transforms` keys of a JSON or YAML config file (other keys are ignored here). */
export async function readPreviewConfig(path: string): Promise<{ method?: TransformPresetName; transforms?: unknown }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`Cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UserError(`Config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`Config file ${path} must hold a mapping of keys`);
  const { method, transforms } = parsed as Record<string, unknown>;
  if (method !== undefined && !(METHODS as readonly unknown[]).includes(method)) {
    throw new UserError(`Config file ${path}: method must be one of ${METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  }
  return { method: method as TransformPresetName | undefined, transforms };
}

export function previewCommand() {
  return new Command('preview')
    .description("write a PNG grid of the augmented views (global and local crops) a method's training sees")
    .requiredOption('--data <dir>', 'folder of images (searched recursively)')
    .addOption(new Option('--method <name>', 'augmentation preset (default: the config file\'s method, else dino)').choices(METHODS))
    .option('--out <file>', 'PNG to write', 'views.png')
    .option('--seed <n>', 'random seed (the same seed shows the first samples of that training run)', intOption(0), 0)
    .option('--images <n>', 'number of images (rows)', intOption(1), 4)
    .option('--config <file>', "JSON/YAML config whose 'transforms' section overrides the preset")
    .action(async (opts) => {
      const fromFile = opts.config ? await readPreviewConfig(opts.config) : {};
      const method = opts.method ?? fromFile.method ?? 'dino';
      const png = await renderPreviewGrid({
        data: opts.data,
        method,
        transforms: fromFile.transforms,
        seed: opts.seed,
        images: opts.images,
        onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
      });
      try {
        await writeFile(opts.out, png);
      } catch (err) {
        throw new UserError(`Cannot write ${opts.out}: ${(err as Error).message}`);
      }
      process.stdout.write(`wrote ${opts.out} (${method} views of ${opts.images} image(s), seed ${opts.seed})\n`);
    });
}
