// backbone.onnx: the backbone's eval-mode forward graph (backbone-graph.ts) with its weights as named initializers
// (timm/torchvision names) and metadata_props that say how to preprocess images (preprocess-metadata.ts).
import onnxProto from 'onnx-proto';
import { toModelProto } from '../graph/index.js';
import type { BackboneModel } from '../models/registry.js';
import type { SerializedTensor } from '../models/weights.js';
import { UserError } from '../util/errors.js';
import { dinotrainVersion } from '../util/version.js';
import { buildBackboneGraph } from './backbone-graph.js';
import { convertToOpset17, SUPPORTED_OPSETS, type Opset } from './opset.js';
import { PREPROCESS_METADATA } from './preprocess-metadata.js';

const { onnx } = onnxProto;

export interface OnnxExportOptions {
  imageSize: number;
  method: string;
  mean: readonly number[];
  std: readonly number[];
  /** batch dimension symbolic (default true); false fixes it to batchSize */
  dynamicBatch?: boolean;
  /** the fixed batch size when dynamicBatch is false (default 1) */
  batchSize?: number;
  /** 18 (default, the builder's) or 17 */
  opset?: number;
  /** which network the weights come from ('teacher', 'student'), written to the metadata */
  part?: string;
  /** the config's model_args (architecture overrides), written to the metadata when not empty */
  modelArgs?: Readonly<Record<string, unknown>>;
}

export function checkOpset(opset: number): Opset {
  if (!(SUPPORTED_OPSETS as readonly number[]).includes(opset)) {
    throw new UserError(`--opset ${opset} is not supported: dinotrain writes opset 18 (its graphs' own) or 17 (rewritten: Reduce axes as attributes)`);
  }
  return opset as Opset;
}

export function backboneMetadata(model: BackboneModel, o: OnnxExportOptions): Record<string, string> {
  const metadata: Record<string, string> = {
    dinotrain_version: dinotrainVersion,
    method: o.method,
    model: model.name,
    image_size: String(o.imageSize),
    mean: JSON.stringify(o.mean),
    std: JSON.stringify(o.std),
    ...PREPROCESS_METADATA,
    embed_dim: String(model.embedDim),
  };
  if (model.patchSize) metadata.patch_size = String(model.patchSize);
  if (o.part) metadata.part = o.part;
  if (o.modelArgs && Object.keys(o.modelArgs).length > 0) metadata.model_args = JSON.stringify(o.modelArgs);
  return metadata;
}

export function backboneOnnx(model: BackboneModel, weights: ReadonlyMap<string, SerializedTensor>, o: OnnxExportOptions): Uint8Array {
  const opset = checkOpset(o.opset ?? 18);
  const values = new Map<string, Float32Array>();
  for (const [name, t] of weights) values.set(name, t.data);
  const batch = o.dynamicBatch === false ? (o.batchSize ?? 1) : 'N';
  const { g, outputs } = buildBackboneGraph(model, { imageSize: o.imageSize, batch, values });
  const { model: proto } = toModelProto(g, outputs, { metadata: backboneMetadata(model, o), producerName: 'dinotrain' });
  proto.producerVersion = dinotrainVersion;
  if (opset === 17) convertToOpset17(proto);
  return onnx.ModelProto.encode(proto).finish();
}
