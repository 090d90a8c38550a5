// DINO's multi-crop augmentation (dino/main_dino.py DataAugmentationDINO), as LightlyTrain's defaults.
import { IMAGENET_NORMALIZE, type TransformsConfig } from '../../config/transforms.js';

export const DINO_TRANSFORMS: TransformsConfig = {
  global: { size: 224, count: 2, scale: [0.14, 1], ratio: [3 / 4, 4 / 3] },
  local: { size: 96, count: 6, scale: [0.05, 0.14], ratio: [3 / 4, 4 / 3] },
  flip_p: 0.5,
  jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
  grayscale_p: 0.2,
  blur: { sigma: [0.1, 2], p_global: [1.0, 0.1], p_local: 0.5, kernel_size: 0 },
  solarize: { p_global: [0, 0.2], p_local: 0, threshold: 0.5 },
  normalize: IMAGENET_NORMALIZE,
};
