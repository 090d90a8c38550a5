// `dinotrain eval`: kNN and linear-probe accuracy of a backbone.onnx on labelled train/val folders.
import { Command, Option } from '@commander-js/extra-typings';
import { devices } from '../engine/providers.js';
import { positiveInt, positiveNumber, rgbTriple } from '../embed/cli-options.js';
import { progressLine, type ProgressLine } from '../embed/progress.js';
import { evaluateModel } from '../eval/evaluate-model.js';
import { evaluationJson, formatEvaluation } from '../eval/report.js';

export function evalCommand() {
  return new Command('eval')
    .description('kNN and linear-probe accuracy of an exported backbone on labelled folders (DIR/<class>/<image>)')
    .requiredOption('--model <file>', 'backbone.onnx exported by dinotrain')
    .requiredOption('--train <dir>', 'labelled train images: <dir>/<class>/<image>')
    .requiredOption('--val <dir>', 'labelled val images, same class folder names')
    .option('--k <n>', 'neighbours for kNN', positiveInt('k'), 20)
    .option('--temperature <t>', 'kNN vote temperature: weights exp(similarity / t)', positiveNumber('temperature'), 0.07)
    .option('--no-linear', 'skip the linear probe')
    .option('--json', 'print the result as JSON on stdout')
    .option('--batch-size <n>', 'images per inference batch', positiveInt('batch-size'), 64)
    .addOption(new Option('--device <device>', 'execution provider').choices(devices).default('auto' as const))
    .option('--threads <n>', 'intra-op threads (default: all cores)', positiveInt('threads'))
    .option('--center-crop', 'resize the shorter side to size/0.875, then take the centre crop (default: resize the whole image)')
    .option('--image-size <px>', "input size (overrides the model's metadata; needed for foreign models)", positiveInt('image-size'))
    .option('--mean <r,g,b>', "normalisation mean (overrides the model's metadata)", rgbTriple('mean'))
    .option('--std <r,g,b>', "normalisation std (overrides the model's metadata)", rgbTriple('std'))
    .option('--quiet', 'no progress output')
    .action(async (opts) => {
      // The val bar starts when train is done, so each shows its own rate.
      const bars: Partial<Record<'train' | 'val', ProgressLine>> = opts.quiet ? {} : { train: progressLine('embed train') };
      const result = await evaluateModel(opts.model, opts.train, opts.val, {
        k: opts.k,
        T: opts.temperature,
        linear: opts.linear,
        batchSize: opts.batchSize,
        device: opts.device,
        threads: opts.threads,
        centerCrop: !!opts.centerCrop,
        overrides: { imageSize: opts.imageSize, mean: opts.mean, std: opts.std },
        onProgress: (split, p) => {
          const bar = bars[split];
          if (!bar) return;
          bar.update(p.done, p.total, p.skipped ? `${p.skipped} skipped` : undefined);
          if (p.done < p.total) return;
          if (split === 'train') {
            bar.finish();
            bars.val = progressLine('embed val');
          } else bar.finish(`kNN${opts.linear ? ' and linear probe' : ''}...`);
        },
        onSkip: (s) => process.stderr.write(`warning: skipped ${s.file}: ${s.reason}\n`),
      });
      for (const note of result.info.notes) process.stderr.write(`note: ${note}\n`);
      for (const c of result.emptyClasses) process.stderr.write(`warning: class folder without images ignored: ${c}\n`);
      if (opts.json) process.stdout.write(`${JSON.stringify(evaluationJson(result), null, 2)}\n`);
      else process.stdout.write(`${formatEvaluation(result)}\n`);
    });
}
