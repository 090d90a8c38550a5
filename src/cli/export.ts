// `dinotrain export`: a checkpoint's backbone as ONNX (verified against the training graph) or safetensors
// (timm/torchvision names, for PyTorch).
import { Command, Option } from '@commander-js/extra-typings';
import { positiveInt } from '../embed/cli-options.js';
import { defaultThreads } from '../engine/providers.js';
import { METHODS } from '../methods/index.js';
import { BACKBONE_PARTS } from '../models/weights.js';
import { EXPORT_FORMATS, exportCheckpoint } from '../export/export-checkpoint.js';
import { formatVerifyReport } from '../export/verify.js';

export function exportCommand() {
  return new Command('export')
    .description('export the backbone of a training checkpoint as ONNX (for embed/eval/deployment) or safetensors (timm/torchvision names)')
    .requiredOption('--checkpoint <dir>', 'checkpoint directory, e.g. runs/exp1/checkpoints/last')
    .requiredOption('--out <file>', 'output file (.onnx or .safetensors)')
    .addOption(new Option('--format <format>', 'output format (default: from the --out extension)').choices(EXPORT_FORMATS))
    .addOption(new Option('--part <part>', `network to export (default: the method's, ${METHODS.map((m) => `${m.exportPart} for ${m.name}`).join(', ')})`).choices(BACKBONE_PARTS))
    .option('--image-size <px>', "ONNX input size (default: the checkpoint's global crop size)", positiveInt('image-size'))
    .option('--opset <n>', 'ONNX opset: 18, or 17 for older runtimes', positiveInt('opset'), 18)
    .option('--dynamic-batch', 'symbolic batch dimension', true)
    .option('--no-dynamic-batch', 'fix the batch dimension to --batch-size')
    .option('--batch-size <n>', 'the fixed batch size with --no-dynamic-batch', positiveInt('batch-size'), 1)
    .option('--threads <n>', 'threads for the verification run (default: all cores)', positiveInt('threads'))
    .action(async (opts) => {
      const r = await exportCheckpoint({
        checkpoint: opts.checkpoint,
        out: opts.out,
        format: opts.format,
        part: opts.part,
        imageSize: opts.imageSize,
        opset: opts.opset,
        dynamicBatch: opts.dynamicBatch,
        batchSize: opts.batchSize,
        threads: opts.threads ?? defaultThreads(),
      });
      const s = r.source;
      const what = `${s.part} backbone of ${s.model} (${s.method}, step ${s.step})`;
      if (r.format === 'safetensors') {
        process.stdout.write(`exported the ${what} to ${r.out}: ${r.tensors} tensors with timm/torchvision names, read back unchanged\n`);
        return;
      }
      const dims = `[${r.batch},3,${r.imageSize},${r.imageSize}]`;
      process.stdout.write(`exported the ${what} to ${r.out}: opset ${r.opset}, input images ${dims}\n`);
      process.stdout.write(`${formatVerifyReport(r.verify!)}\n`);
    });
}
