// Writing the exported backbone: backbone.safetensors (timm/torchvision names and layouts) and backbone.onnx.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BackboneModel } from '../models/registry.js';
import type { BackboneWeights } from '../methods/method.js';
import { dinotrainVersion } from '../util/version.js';
import { backboneOnnx, type OnnxExportOptions } from './onnx.js';
import { writeSafetensors, type TensorInput } from './safetensors.js';

/** Safetensors with PyTorch dtypes: BatchNorm's num_batches_tracked is int64 as torch stores it. */
export async function writeBackboneSafetensors(path: string, model: BackboneModel, w: BackboneWeights, method: string): Promise<void> {
  const int64 = new Set(model.spec().filter((p) => p.dtype === 'int64').map((p) => p.name));
  const tensors = new Map<string, TensorInput>();
  for (const [name, t] of w.tensors) {
    tensors.set(name, int64.has(name) ? { dtype: 'I64', shape: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))) } : { dtype: 'F32', shape: t.shape, data: t.data });
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeSafetensors(tmp, tensors, { format: 'pt', dinotrain_version: dinotrainVersion, model: model.name, method }, { fsync: true });
  await rename(tmp, path);
}

export async function writeBackboneOnnx(path: string, model: BackboneModel, w: BackboneWeights, o: OnnxExportOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, backboneOnnx(model, w.tensors, o));
  await rename(tmp, path);
}
