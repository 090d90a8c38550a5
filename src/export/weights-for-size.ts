// A backbone's weights for one input size: a ViT's pos_embed resampled from its stored grid to that size's grid
// (models/vit-image-size.ts), the other tensors as they are; a ResNet's weights do not depend on the size.
import type { BackboneModel } from '../models/registry.js';
import type { VitConfig } from '../models/vit-config.js';
import { posEmbedForImageSize } from '../models/vit-image-size.js';
import type { BackboneWeights } from '../models/weights.js';
import { checkImageSize } from './backbone-graph.js';

export function weightsForImageSize(model: BackboneModel, w: BackboneWeights, imageSize: number): BackboneWeights {
  checkImageSize(model, imageSize);
  const pos = w.tensors.get('pos_embed');
  if (model.kind !== 'vit' || !pos) return w;
  const data = posEmbedForImageSize(model.config as VitConfig, pos.data, imageSize);
  if (data === pos.data) return w;
  const tensors = new Map(w.tensors);
  tensors.set('pos_embed', { shape: [1, data.length / model.embedDim, model.embedDim], data });
  return { ...w, tensors };
}
