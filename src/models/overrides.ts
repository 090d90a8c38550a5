// The config's `model_args` (snake_case) as the registry's architecture overrides.
import type { ModelOverrides } from './registry.js';

export interface ModelArgs {
  embed_dim?: number;
  depth?: number;
  num_heads?: number;
  layer_scale?: number;
  num_registers?: number;
  width?: number;
}

export function modelOverrides(a: ModelArgs = {}, opts: { maskToken?: boolean } = {}): ModelOverrides {
  const vit: NonNullable<ModelOverrides['vit']> = {};
  if (a.embed_dim !== undefined) vit.embedDim = a.embed_dim;
  if (a.depth !== undefined) vit.depth = a.depth;
  if (a.num_heads !== undefined) vit.numHeads = a.num_heads;
  if (a.layer_scale !== undefined) vit.layerScale = a.layer_scale;
  if (a.num_registers !== undefined) vit.numRegisters = a.num_registers;
  if (opts.maskToken) vit.maskToken = true;
  return { vit, resnet: a.width !== undefined ? { width: a.width } : {} };
}
