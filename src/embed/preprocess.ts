// Eval-time preprocessing: decode any image sharp reads to 8-bit RGB, resize, normalise to float32 CHW.
// Decoding follows src/data/decode.ts (EXIF orientation applied, alpha dropped, any colour mode to
// sRGB); the resize is done by libvips on the libuv pool (shrink-on-load makes big JPEGs cheap).
import sharp from 'sharp';
export { configureSharp } from '../data/decode.js';
import type { Rgb } from './backbone-info.js';

export interface PreprocessSpec {
  height: number;
  width: number;
  mean: Rgb;
  std: Rgb;
  /**
   * false: squash the whole image to height x width.
   * true: resize the shorter side to size / CROP_FRACTION, then take the centre height x width
   * (DINO's eval transform: Resize(256) + CenterCrop(224)).
   */
  centerCrop: boolean;
}

export const CROP_FRACTION = 0.875;

async function decodeRgb(path: string, spec: PreprocessSpec): Promise<Buffer> {
  let img = sharp(path, { failOn: 'error' }).rotate().toColourspace('srgb');
  if (spec.centerCrop) {
    const outerH = Math.round(spec.height / CROP_FRACTION);
    const outerW = Math.round(spec.width / CROP_FRACTION);
    // 'cover' to the outer box resizes the shorter side to it and crops the longer one centrally;
    // the extract then takes the centre of that box.
    img = img
      .resize(outerW, outerH, { fit: 'cover', position: 'centre' })
      .extract({
        left: Math.floor((outerW - spec.width) / 2),
        top: Math.floor((outerH - spec.height) / 2),
        width: spec.width,
        height: spec.height,
      });
  } else {
    img = img.resize(spec.width, spec.height, { fit: 'fill' });
  }
  const { data, info } = await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== spec.width || info.height !== spec.height) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${spec.width}x${spec.height}x3`);
  }
  return data;
}

/** Writes one image as normalised float32 [3,H,W] into `out` at `offset`. Throws on unreadable files. */
export async function loadImageInto(path: string, spec: PreprocessSpec, out: Float32Array, offset: number): Promise<void> {
  const hwc = await decodeRgb(path, spec);
  const plane = spec.height * spec.width;
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * spec.std[c]);
    const shift = spec.mean[c] / spec.std[c];
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = hwc[i * 3 + c] * scale - shift;
  }
}
