// `dinotrain preview`: a PNG of the augmented views a method trains on, for a few images.
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { readConfigFile } from '../config/load.js';
import { resolveTransforms } from '../config/transforms.js';
import { renderPreviewGrid } from '../data/preview-grid.js';
import { DEFAULT_METHOD, methodNamed, methodNames } from '../methods/index.js';
import { checkWritable, writeFileAtomic } from '../util/write-file.js';

function intOption(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

export function previewCommand() {
  return new Command('preview')
    .description("write a PNG grid of the augmented views (global and local crops) a method's training sees")
    .requiredOption('--data <dir>', 'folder of images (searched recursively)')
    .addOption(new Option('--method <name>', `augmentation preset (default: the config file's method, else ${DEFAULT_METHOD})`).choices(methodNames))
    .option('--out <file>', 'PNG to write', 'views.png')
    .option('--seed <n>', 'random seed (the same seed shows the first samples of that training run)', intOption(0), 0)
    .option('--images <n>', 'number of images (rows)', intOption(1), 4)
    .option('--config <file>', "JSON/YAML config whose 'transforms' section overrides the preset (other keys are ignored)")
    .action(async (opts) => {
      const file = opts.config ? readConfigFile(opts.config) : {};
      const method = methodNamed(String(opts.method ?? file.method ?? DEFAULT_METHOD), opts.method ? '--method' : `${opts.config}: method`);
      const transforms = resolveTransforms(method.transforms, file.transforms);
      await checkWritable(opts.out, 'preview');
      const png = await renderPreviewGrid({
        data: opts.data,
        transforms,
        seed: opts.seed,
        images: opts.images,
        onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
      });
      await writeFileAtomic(opts.out, png, { what: 'preview' });
      process.stdout.write(`wrote ${opts.out} (${method.name} views of ${opts.images} image(s), seed ${opts.seed})\n`);
    });
}
