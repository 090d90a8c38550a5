// Teacher models for distillation tests: dinotrain's own backbone.onnx (metadata, `embedding`, `patch_tokens`) of a
// tiny randomly initialised ViT, and a foreign one without metadata whose outputs are named as Hugging Face names
// them (`pooler_output`, `last_hidden_state` with a class token before the patches).
import { writeFileSync } from 'node:fs';
import { backboneOnnx } from '../../src/export/onnx.js';
import { Graph, toBytes } from '../../src/graph/index.js';
import { modelOverrides, type ModelArgs } from '../../src/models/overrides.js';
import { initParams } from '../../src/models/params.js';
import { getModel } from '../../src/models/registry.js';
import { Rng } from '../../src/util/rng.js';

export interface TeacherOptions {
  model?: string;
  modelArgs?: ModelArgs;
  imageSize?: number;
  mean?: number[];
  std?: number[];
  seed?: number;
  /** a fixed batch dimension (default: symbolic) */
  batch?: number;
}

/** A dinotrain backbone.onnx of a random tiny ViT (default: 2 blocks of 32-dim tokens, 8 px patches, 32 px input). */
export function writeDinotrainTeacher(path: string, o: TeacherOptions = {}): string {
  const model = getModel(o.model ?? 'vit-tiny/8', modelOverrides(o.modelArgs ?? { embed_dim: 32, depth: 2, num_heads: 2 }));
  const values = initParams(model.spec().filter((p) => model.isExportKey(p.name)), new Rng(o.seed ?? 7));
  const weights = new Map([...values].map(([name, data]) => [name, { shape: model.spec().find((p) => p.name === name)!.shape, data }]));
  const bytes = backboneOnnx(model, weights, {
    imageSize: o.imageSize ?? 32, method: 'dino', dynamicBatch: o.batch === undefined, batchSize: o.batch, mean: o.mean ?? [0.485, 0.456, 0.406], std: o.std ?? [0.229, 0.224, 0.225],
  });
  writeFileSync(path, bytes);
  return path;
}

/**
 * A foreign teacher: input `pixel_values` [N, 3, 32, 32], 8 px patches of `dim` channels, outputs `pooler_output`
 * [N, dim] and `last_hidden_state` [N, 1 + 16, dim] (a mean token first), no metadata.
 */
export function writeForeignTeacher(path: string, dim = 12, seed = 11): string {
  const rng = new Rng(seed);
  const w = Float32Array.from({ length: dim * 3 * 8 * 8 }, () => rng.normal() * 0.1);
  const g = new Graph({ name: 'foreign', paramValues: new Map([['proj', w]]) });
  const x = g.input('pixel_values', ['N', 3, 32, 32]);
  const patches = g.conv(x, g.param('proj', [dim, 3, 8, 8]), null, { strides: [8, 8] }); // [N, dim, 4, 4]
  const tokens = g.transpose(g.reshape(patches, [-1, dim, 16]), [0, 2, 1]); // [N, 16, dim]
  const first = g.reduceMean(tokens, [1], true);
  const bytes = toBytes(g, { pooler_output: g.tanh(g.reshape(first, [-1, dim])), last_hidden_state: g.concat([first, tokens], 1) }).bytes;
  writeFileSync(path, bytes);
  return path;
}
