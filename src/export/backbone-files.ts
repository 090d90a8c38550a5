// Writing the exported backbone: backbone.safetensors (timm/torchvision names, PyTorch layouts and dtypes; a ViT's
// pos_embed for one input size, see weights-for-size.ts) and backbone.onnx. The ONNX file is verified before it is written; the safetensors file is written, read back and
// checked under its temporary name; either is renamed into place only then (writeFileAtomic), so a failed check or a
// full disk leaves no file behind and never replaces a good one.
import type { BackboneModel } from '../models/registry.js';
import type { BackboneWeights } from '../models/weights.js';
import { dinotrainVersion } from '../util/version.js';
import { pytorchMetadata } from './pytorch-recipe.js';
import { weightsForImageSize } from './weights-for-size.js';
import { writeFileAtomic } from '../util/write-file.js';
import { backboneOnnx, type OnnxExportOptions } from './onnx.js';
import { readSafetensors, safetensorsChunks, type TensorInput } from '../formats/safetensors.js';
import { toFloat32 } from '../formats/tensor-values.js';
import { ExportVerificationError, verifyBackboneOnnx, type VerifyReport } from './verify.js';

/** Safetensors with PyTorch dtypes: BatchNorm's num_batches_tracked is int64 as torch stores it. */
export function backboneSafetensorsTensors(model: BackboneModel, w: BackboneWeights): Map<string, TensorInput> {
  const int64 = new Set(model.spec().filter((p) => p.dtype === 'int64').map((p) => p.name));
  const tensors = new Map<string, TensorInput>();
  for (const [name, t] of w.tensors) {
    tensors.set(name, int64.has(name) ? { dtype: 'I64', shape: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))) } : { dtype: 'F32', shape: t.shape, data: t.data });
  }
  return tensors;
}

/** Reads a written backbone.safetensors back: every tensor must come back with its name, shape and exact values. */
export async function verifyBackboneSafetensors(path: string, w: BackboneWeights): Promise<number> {
  const file = await readSafetensors(path);
  if (file.tensors.size !== w.tensors.size) {
    throw new ExportVerificationError(`export verification failed: ${path} holds ${file.tensors.size} tensors, expected ${w.tensors.size}`);
  }
  for (const [name, t] of w.tensors) {
    const back = file.tensors.get(name);
    const values = back && toFloat32(back);
    if (!back || !values || back.shape.join() !== t.shape.join() || values.some((v, i) => !Object.is(v, t.data[i]))) {
      throw new ExportVerificationError(`export verification failed: tensor '${name}' did not read back unchanged from ${path}`);
    }
  }
  return file.tensors.size;
}

export interface SafetensorsExportOptions {
  /**
   * The input size the file is for: a ViT's pos_embed is resampled to its patch grid as the forward does at that
   * size, so timm.create_model(..., img_size=imageSize) computes what dinotrain computes there. Default: the size of
   * the stored grid (no resampling).
   */
  imageSize?: number;
  /** more metadata (part, step) */
  metadata?: Record<string, string>;
}

export async function writeBackboneSafetensors(
  path: string,
  model: BackboneModel,
  w: BackboneWeights,
  method: string,
  o: SafetensorsExportOptions = {},
): Promise<void> {
  const imageSize = o.imageSize ?? model.defaultImageSize;
  const sized = weightsForImageSize(model, w, imageSize);
  const tensors = backboneSafetensorsTensors(model, sized);
  const metadata = { format: 'pt', dinotrain_version: dinotrainVersion, model: model.name, method, ...pytorchMetadata(model, imageSize), ...o.metadata };
  await writeFileAtomic(path, safetensorsChunks(tensors, metadata), { durable: true, what: 'export', check: (tmp) => verifyBackboneSafetensors(tmp, sized) });
}

export interface WriteOnnxOptions extends OnnxExportOptions {
  /** run the verification (default true) */
  verify?: boolean;
  /** ORT threads for the verification (default 1) */
  threads?: number;
}

/** Writes backbone.onnx after verifying it (see verify.ts); returns the verification's numbers. */
export async function writeBackboneOnnx(path: string, model: BackboneModel, w: BackboneWeights, o: WriteOnnxOptions): Promise<VerifyReport | undefined> {
  const bytes = backboneOnnx(model, w.tensors, o);
  let report: VerifyReport | undefined;
  if (o.verify !== false) {
    const batch = o.dynamicBatch === false ? (o.batchSize ?? 1) : 2;
    report = await verifyBackboneOnnx(bytes, model, w.tensors, { imageSize: o.imageSize, batch, threads: o.threads });
  }
  await writeFileAtomic(path, bytes, { durable: true, what: 'export' });
  return report;
}
