// `dinotrain embed`: every image under a folder through a backbone.onnx, written as CSV, JSONL or NPY.
import { Command, Option } from '@commander-js/extra-typings';
import { devices } from '../engine/providers.js';
import { positiveInt, rgbTriple } from '../embed/cli-options.js';
import { embedFolder } from '../embed/embed-folder.js';
import { progressLine } from '../embed/progress.js';
import { formatFromPath, writeEmbeddings } from '../embed/write-embeddings.js';
import { checkWritable } from '../util/write-file.js';

export function embedCommand() {
  return new Command('embed')
    .description('embed every image under a folder with an exported backbone (ONNX)')
    .requiredOption('--model <file>', 'backbone.onnx exported by dinotrain')
    .requiredOption('--data <dir>', 'folder of images (searched recursively)')
    .requiredOption('--out <file>', 'output: .csv (file,e0..), .jsonl ({file, embedding}) or .npy (+ <name>.files.txt)')
    .option('--batch-size <n>', 'images per inference batch', positiveInt('batch-size'), 64)
    .addOption(new Option('--device <device>', 'execution provider').choices(devices).default('auto' as const))
    .option('--threads <n>', 'intra-op threads (default: all cores)', positiveInt('threads'))
    .option('--center-crop', 'resize the shorter side to size/0.875, then take the centre crop (default: resize the whole image)')
    .option('--image-size <px>', "input size (overrides the model's metadata; needed for foreign models)", positiveInt('image-size'))
    .option('--mean <r,g,b>', "normalisation mean (overrides the model's metadata)", rgbTriple('mean'))
    .option('--std <r,g,b>', "normalisation std (overrides the model's metadata)", rgbTriple('std'))
    .option('--quiet', 'no progress output')
    .action(async (opts) => {
      formatFromPath(opts.out); // a bad extension or an unwritable place fails before any work
      await checkWritable(opts.out, 'embeddings');
      const progress = opts.quiet ? undefined : progressLine('embed');
      const result = await embedFolder(opts.model, opts.data, {
        batchSize: opts.batchSize,
        device: opts.device,
        threads: opts.threads,
        centerCrop: !!opts.centerCrop,
        overrides: { imageSize: opts.imageSize, mean: opts.mean, std: opts.std },
        onProgress: (p) => progress?.update(p.done, p.total, p.skipped ? `${p.skipped} skipped` : undefined),
        onSkip: (s) => process.stderr.write(`${progress && process.stderr.isTTY ? '\n' : ''}warning: skipped ${s.file}: ${s.reason}\n`),
      });
      const written = await writeEmbeddings(opts.out, result.files, result.data, result.dim);
      const { info, timing } = result;
      for (const note of info.notes) process.stderr.write(`note: ${note}\n`);
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      progress?.finish(
        `embedded ${result.files.length} images (dim ${result.dim}, ${info.height}x${info.width}, ${result.providers[0]})` +
          `${result.skipped.length ? `, skipped ${result.skipped.length} unreadable` : ''} in ${(timing.totalMs / 1000).toFixed(1)} s ` +
          `-> ${written.join(', ')}`,
      );
    });
}
