// Eval-time preprocessing with the training views' resize: decode to 8-bit RGB as training does (src/data/decode.ts:
// EXIF orientation applied, alpha dropped, any colour mode to sRGB; here at full resolution), resize with the
// training crop-resize (antialiased bilinear, src/data/resize.ts), then normalise to float32 CHW. These steps are
// written into every backbone.onnx (export/preprocess-metadata.ts); docs/pytorch.md has them in Python.
export { configureSharp } from '../data/decode.js';
import { roundHalfEven } from '../data/crop.js';
import { decodeImage } from '../data/decode.js';
import type { PlanarImage, RgbImage } from '../data/image.js';
import { resizeCrop } from '../data/resize.js';
import type { Rgb } from './backbone-info.js';

export interface PreprocessSpec {
  height: number;
  width: number;
  mean: Rgb;
  std: Rgb;
  /**
   * false: resize the whole image to height x width (aspect ratio not kept).
   * true: resize the shorter side to max(height, width) / CROP_FRACTION (the longer side in proportion), then take
   * the centre height x width (DINO's eval transform Resize(256) + CenterCrop(224), torchvision's rounding).
   */
  centerCrop: boolean;
}

export const CROP_FRACTION = 0.875;

/** torchvision's Resize(int): the shorter side to `short`, the longer one int(short · long / shorter). */
export function shorterSideSize(width: number, height: number, short: number): { width: number; height: number } {
  const long = Math.floor((short * Math.max(width, height)) / Math.min(width, height));
  return width <= height ? { width: short, height: long } : { width: long, height: short };
}

/** The resized image as [0, 1] planar floats: the whole image squashed, or resized then centre-cropped. */
export function resizeForModel(img: RgbImage, spec: PreprocessSpec): PlanarImage {
  const whole = { top: 0, left: 0, width: img.width, height: img.height };
  if (!spec.centerCrop) {
    const out = { width: spec.width, height: spec.height, data: new Float32Array(3 * spec.width * spec.height) };
    resizeCrop(img, whole, out);
    return out;
  }
  const size = shorterSideSize(img.width, img.height, Math.round(Math.max(spec.height, spec.width) / CROP_FRACTION));
  const resized = { ...size, data: new Float32Array(3 * size.width * size.height) };
  resizeCrop(img, whole, resized);
  // torchvision's CenterCrop: int(round((size - crop) / 2)), Python's round
  const top = roundHalfEven((size.height - spec.height) / 2), left = roundHalfEven((size.width - spec.width) / 2);
  const out = { width: spec.width, height: spec.height, data: new Float32Array(3 * spec.width * spec.height) };
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < spec.height; y++) {
      const from = (c * size.height + top + y) * size.width + left;
      out.data.set(resized.data.subarray(from, from + spec.width), (c * spec.height + y) * spec.width);
    }
  return out;
}

/** Writes one image as normalised float32 [3,H,W] into `out` at `offset`. Throws on unreadable files. */
export async function loadImageInto(path: string, spec: PreprocessSpec, out: Float32Array, offset: number): Promise<void> {
  const planar = resizeForModel(await decodeImage(path), spec).data;
  const plane = spec.height * spec.width;
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = (planar[c * plane + i] - spec.mean[c]) / spec.std[c];
  }
}
