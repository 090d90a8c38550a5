// Multi-crop views: which views a config asks for, and one view rendered from a decoded image:
// RandomResizedCrop -> flip -> colour jitter -> grayscale -> blur -> solarize -> normalise,
// the order of DINO's/LightlyTrain's pipelines.
import type { TransformsConfig } from '../config/transforms.js';
import type { Rng } from '../util/rng.js';
import { gaussianBlur } from './blur.js';
import { colorJitter, flipHorizontal, solarize, toGrayscale } from './color.js';
import { sampleCropBox } from './crop.js';
import type { CropBox, PlanarImage, RgbImage } from './image.js';
import { normalize } from './normalize.js';
import { resizeCrop } from './resize.js';

export interface ViewSpec {
  kind: 'global' | 'local';
  size: number;
  scale: readonly [number, number];
  ratio: readonly [number, number];
  blurP: number;
  solarizeP: number;
}

/** Global views first (view 1, view 2, ...), then locals. */
export function viewSpecs(t: TransformsConfig): ViewSpec[] {
  const specs: ViewSpec[] = [];
  for (let i = 0; i < t.global.count; i++) {
    specs.push({
      kind: 'global',
      size: t.global.size,
      scale: t.global.scale,
      ratio: t.global.ratio,
      blurP: t.blur.p_global[i],
      solarizeP: t.solarize.p_global[i],
    });
  }
  for (let i = 0; i < t.local.count; i++) {
    specs.push({
      kind: 'local',
      size: t.local.size,
      scale: t.local.scale,
      ratio: t.local.ratio,
      blurP: t.blur.p_local,
      solarizeP: t.solarize.p_local,
    });
  }
  return specs;
}

/** What was drawn for one view (for previews and tests). */
export interface ViewRecord {
  box: CropBox;
  flipped: boolean;
  jittered: boolean;
  grayscale: boolean;
  blurSigma: number | null;
  solarized: boolean;
}

/**
 * Renders one view of `img` into `out` (planar, spec.size², normalised). Draws from `rng` in a
 * fixed sequence, so the same rng state gives the same view.
 */
export function renderView(img: RgbImage, spec: ViewSpec, t: TransformsConfig, rng: Rng, out: Float32Array): ViewRecord {
  const view: PlanarImage = { width: spec.size, height: spec.size, data: out };
  const box = sampleCropBox(rng, img.width, img.height, spec.scale, spec.ratio);
  resizeCrop(img, box, view);
  const flipped = rng.bernoulli(t.flip_p);
  if (flipped) flipHorizontal(view);
  const jittered = rng.bernoulli(t.jitter.p);
  if (jittered) colorJitter(view, rng, t.jitter);
  const grayscale = rng.bernoulli(t.grayscale_p);
  if (grayscale) toGrayscale(view);
  let blurSigma: number | null = null;
  if (rng.bernoulli(spec.blurP)) {
    blurSigma = rng.uniform(t.blur.sigma[0], t.blur.sigma[1]);
    gaussianBlur(view, blurSigma, t.blur.kernel_size === 0 ? undefined : t.blur.kernel_size);
  }
  const solarized = rng.bernoulli(spec.solarizeP);
  if (solarized) solarize(view, t.solarize.threshold);
  normalize(view, t.normalize);
  return { box, flipped, jittered, grayscale, blurSigma, solarized };
}
