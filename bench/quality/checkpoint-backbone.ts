// A pretraining checkpoint (or the same backbone at its random init) as backbone.onnx bytes, built in-process with
// src/export/onnx.ts from the weights the method deploys: the EMA teacher for DINO / DINOv2, the student for SimCLR
// and distillation.
import { join } from 'node:path';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { backboneOnnx } from '../../src/export/onnx.js';
import type { SerializedTensor } from '../../src/models/weights.js';
import type { PretrainConfig } from '../../src/config/schema.js';
import { methodNamed } from '../../src/methods/index.js';
import type { BackboneModel } from '../../src/models/registry.js';
import type { ModelArgs } from '../../src/models/overrides.js';
import { initParams } from '../../src/models/params.js';
import { Rng } from '../../src/util/rng.js';

/** The parts of a run's config.json this bench reads. */
export interface RunConfig {
  method: string;
  model: string;
  model_args?: ModelArgs;
  seed: number;
  transforms: { global: { size: number }; normalize: { mean: [number, number, number]; std: [number, number, number] } };
}

/** The checkpoint prefix of the network the method exports (its definition's exportPart). */
export function deployedPrefix(method: string): string {
  return `${methodNamed(method).exportPart}.`;
}

/** The backbone as the method builds it for this config (e.g. DINOv2's with a mask token and LayerScale). */
export function runModel(cfg: RunConfig): BackboneModel {
  return methodNamed(cfg.method).model({ method_args: {}, ...cfg } as unknown as PretrainConfig);
}

function toOnnx(cfg: RunConfig, model: BackboneModel, weights: Map<string, SerializedTensor>): Uint8Array {
  const n = cfg.transforms.normalize;
  return backboneOnnx(model, weights, { imageSize: cfg.transforms.global.size, method: cfg.method, mean: n.mean, std: n.std });
}

export interface CheckpointBackbone {
  onnx: Uint8Array;
  /** ||w - w_init|| / ||w_init|| over the trainable backbone weights (BN running stats left out): shows the
   * evaluated weights did move (0 at init). */
  drift: number;
}

function initWeights(cfg: RunConfig, model: BackboneModel): Map<string, SerializedTensor> {
  // Init over the full backbone spec (dinov2's includes mask_token) so each tensor draws from the same rng fork.
  const values = initParams(model.spec(), new Rng(cfg.seed).fork(0x5eed));
  const specs = model.spec().filter((p) => model.isExportKey(p.name));
  return new Map<string, SerializedTensor>(specs.map((p) => [p.name, { shape: p.shape, data: values.get(p.name)! }]));
}

function drift(model: BackboneModel, weights: Map<string, SerializedTensor>, init: Map<string, SerializedTensor>): number {
  let d = 0, n = 0;
  const trainable = new Set(model.spec().filter((p) => p.trainable).map((p) => p.name));
  for (const [name, t] of weights) {
    if (!trainable.has(name)) continue;
    const w0 = init.get(name)!.data;
    for (let i = 0; i < t.data.length; i++) {
      d += (t.data[i] - w0[i]) ** 2;
      n += w0[i] ** 2;
    }
  }
  return Math.sqrt(d / n);
}

export async function checkpointBackbone(cfg: RunConfig, checkpointDir: string): Promise<CheckpointBackbone> {
  const model = runModel(cfg);
  const file = await readSafetensors(join(checkpointDir, 'model.safetensors'));
  const prefix = deployedPrefix(cfg.method);
  const weights = new Map<string, SerializedTensor>();
  for (const p of model.spec()) {
    if (!model.isExportKey(p.name)) continue;
    const t = file.tensors.get(prefix + p.name);
    if (!t) throw new Error(`${checkpointDir}: no tensor '${prefix + p.name}'`);
    weights.set(p.name, { shape: p.shape, data: Float32Array.from(t.data as ArrayLike<number>) });
  }
  return { onnx: toOnnx(cfg, model, weights), drift: drift(model, weights, initWeights(cfg, model)) };
}

/** The backbone as every method initialises it (src/methods/*.ts: Network.init(specs, new Rng(seed).fork(0x5eed))). */
export function randomInitBackbone(cfg: RunConfig): CheckpointBackbone {
  const model = runModel(cfg);
  return { onnx: toOnnx(cfg, model, initWeights(cfg, model)), drift: 0 };
}
