// The backbone's forward graph with its weights as named initializers: backbone.onnx. The same model function that
// trains builds it, in eval mode (BatchNorm running statistics, no drop path, no masks).
import { Graph, toBytes } from '../graph/index.js';
import { graphParams } from '../models/graph-params.js';
import type { BackboneModel } from '../models/registry.js';
import { dinotrainVersion } from '../util/version.js';
import type { SerializedTensor } from '../methods/method.js';

export interface OnnxExportOptions {
  imageSize: number;
  method: string;
  mean: readonly number[];
  std: readonly number[];
  /** batch dimension symbolic (default true) */
  dynamicBatch?: boolean;
  batchSize?: number;
}

export function backboneOnnx(model: BackboneModel, weights: ReadonlyMap<string, SerializedTensor>, o: OnnxExportOptions): Uint8Array {
  if (model.patchSize && o.imageSize % model.patchSize !== 0) {
    throw new Error(`image size ${o.imageSize} is not a multiple of the patch size ${model.patchSize}`);
  }
  const values = new Map<string, Float32Array>();
  for (const [name, t] of weights) values.set(name, t.data);
  const g = new Graph({ name: 'dinotrain_backbone', paramValues: values });
  const specs = model.spec().filter((p) => values.has(p.name));
  const P = graphParams(g, specs);
  const batch = o.dynamicBatch === false ? (o.batchSize ?? 1) : 'N';
  const images = g.input('images', [batch, 3, o.imageSize, o.imageSize]);
  const out = model.forward(g, P, images, { bnMode: 'eval' });
  const outputs = { embedding: out.cls, ...(out.patchTokens ? { patch_tokens: out.patchTokens } : {}) };
  const metadata: Record<string, string> = {
    dinotrain_version: dinotrainVersion,
    method: o.method,
    model: model.name,
    image_size: String(o.imageSize),
    mean: JSON.stringify(o.mean),
    std: JSON.stringify(o.std),
  };
  if (model.patchSize) metadata.patch_size = String(model.patchSize);
  return toBytes(g, outputs, { metadata, producerName: 'dinotrain' }).bytes;
}
