// Tensors by name outside any graph: what checkpoints, exports and weight imports pass around.

/** One tensor's values (always float32 in memory) and its PyTorch shape. */
export interface SerializedTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** A backbone's weights for export: timm / torchvision names, PyTorch layouts (BatchNorm buffers included). */
export interface BackboneWeights {
  /** the model name, e.g. 'vit-small/14' */
  model: string;
  tensors: Map<string, SerializedTensor>;
}

/** The networks of a training run that hold a backbone. */
export type BackbonePart = 'student' | 'teacher';
export const BACKBONE_PARTS: readonly BackbonePart[] = ['student', 'teacher'];
