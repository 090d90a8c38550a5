// The in-process API behind `dinotrain export`: a checkpoint's backbone to backbone.onnx or backbone.safetensors,
// built from the checkpoint's config alone (no training session) and verified before it is put in place. Both are
// for the training size unless --image-size says otherwise (safetensors: a ViT's pos_embed resampled to it).
import { extname } from 'node:path';
import { UserError } from '../util/errors.js';
import { checkWritable } from '../util/write-file.js';
import { writeBackboneOnnx, writeBackboneSafetensors } from './backbone-files.js';
import { checkImageSize } from './backbone-graph.js';
import type { BackbonePart } from '../models/weights.js';
import { readCheckpointBackbone, type CheckpointBackbone } from './checkpoint-backbone.js';
import { checkOpset } from './onnx.js';
import type { VerifyReport } from './verify.js';

export const EXPORT_FORMATS = ['onnx', 'safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportCheckpointOptions {
  checkpoint: string;
  out: string;
  /** default: from the extension of `out` */
  format?: ExportFormat;
  /** default: the method's export part (its definition's exportPart) */
  part?: BackbonePart;
  /** the input size (ONNX: the input's; safetensors: the one a ViT's pos_embed is written for); default: the checkpoint's global crop size */
  imageSize?: number;
  /** 17 or 18 (default) */
  opset?: number;
  /** default true; false fixes the batch dimension to batchSize */
  dynamicBatch?: boolean;
  batchSize?: number;
  /** ORT threads for the verification */
  threads?: number;
}

export interface ExportCheckpointResult {
  format: ExportFormat;
  out: string;
  source: CheckpointBackbone;
  imageSize?: number;
  opset?: number;
  batch: number | 'N';
  /** ONNX: the verification against the training graph */
  verify?: VerifyReport;
  /** safetensors: tensors written and read back unchanged */
  tensors?: number;
}

export function formatOf(out: string, format?: string): ExportFormat {
  if (format !== undefined) {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UserError(`unknown --format '${format}': use ${EXPORT_FORMATS.join(' or ')}`);
    return format as ExportFormat;
  }
  const ext = extname(out).slice(1).toLowerCase();
  if ((EXPORT_FORMATS as readonly string[]).includes(ext)) return ext as ExportFormat;
  throw new UserError(`--format is needed: cannot tell it from the extension of ${out} (use .onnx or .safetensors, or pass --format)`);
}

export async function exportCheckpoint(o: ExportCheckpointOptions): Promise<ExportCheckpointResult> {
  const format = formatOf(o.out, o.format);
  if (o.part !== undefined && o.part !== 'student' && o.part !== 'teacher') throw new UserError(`unknown --part '${o.part}': use student or teacher`);
  const opset = format === 'onnx' ? checkOpset(o.opset ?? 18) : undefined;
  const src = await readCheckpointBackbone(o.checkpoint, o.part);
  await checkWritable(o.out, 'export');
  const model = src.backbone;
  const imageSize = o.imageSize ?? src.globalSize;
  checkImageSize(model, imageSize);
  if (format === 'safetensors') {
    await writeBackboneSafetensors(o.out, model, src.weights, src.method, { imageSize, metadata: { part: src.part, step: String(src.step) } });
    return { format, out: o.out, source: src, imageSize, batch: 'N', tensors: src.weights.tensors.size };
  }
  const dynamicBatch = o.dynamicBatch !== false;
  const batchSize = o.batchSize ?? 1;
  const report = await writeBackboneOnnx(o.out, model, src.weights, {
    imageSize,
    method: src.method,
    mean: src.mean,
    std: src.std,
    dynamicBatch,
    batchSize,
    opset,
    part: src.part,
    modelArgs: src.modelArgs as Record<string, unknown>,
    threads: o.threads,
  });
  return { format, out: o.out, source: src, imageSize, opset, batch: dynamicBatch ? 'N' : batchSize, verify: report };
}
