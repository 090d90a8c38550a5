// A ViT's pos_embed for one input size: the stored grid resampled the way the forward resamples it at that size,
// so a timm ViT built for that size (img_size) and holding the result computes what dinotrain computes there.
import { resamplePosEmbed } from './pos-embed-values.js';
import { patchGrid, type VitConfig } from './vit-config.js';
import { posEmbedPrefix, storedGridSide } from './vit-spec.js';

/** pos_embed [1, prefix + side², D] (the stored grid) -> the grid of a `imageSize` x `imageSize` input. */
export function posEmbedForImageSize(cfg: VitConfig, stored: Float32Array, imageSize: number): Float32Array {
  const side = storedGridSide(cfg);
  const to = patchGrid(cfg, imageSize);
  if (to.rows === side && to.cols === side) return stored;
  return resamplePosEmbed(stored, cfg.embedDim, posEmbedPrefix(cfg), { rows: side, cols: side }, to, cfg.posInterpolation);
}
