// pretrain's export: the backbone of the part the method exports, as backbone.onnx (verified) and backbone.safetensors.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PretrainConfig } from '../config/schema.js';
import { writeBackboneOnnx, writeBackboneSafetensors } from '../export/backbone-files.js';
import { formatVerifyReport } from '../export/verify.js';
import type { TrainingMethod } from '../methods/method.js';
import type { BackbonePart } from '../models/weights.js';

export async function exportBackbone(method: TrainingMethod, part: BackbonePart, cfg: PretrainConfig, log: Pick<Logger, 'info'>) {
  const dir = join(cfg.out, 'exported_models');
  const weights = method.backbone(part);
  const paths = { onnx: join(dir, 'backbone.onnx'), safetensors: join(dir, 'backbone.safetensors') };
  await writeBackboneSafetensors(paths.safetensors, method.model, weights, cfg.method);
  const report = await writeBackboneOnnx(paths.onnx, method.model, weights, {
    imageSize: cfg.transforms.global.size,
    method: cfg.method,
    mean: cfg.transforms.normalize.mean,
    std: cfg.transforms.normalize.std,
    part,
    modelArgs: cfg.model_args,
    threads: cfg.threads,
  });
  log.info(`exported ${paths.onnx}${report ? `: ${formatVerifyReport(report)}` : ''}`);
  return paths;
}
