// File -> 8-bit RGB pixels with sharp (libvips). One decode per sample; every view is cut from it.
// Parallelism comes from several decodes in flight on libuv's pool, each on one vips thread.
import sharp, { type OutputInfo } from 'sharp';
import type { RgbImage } from './image.js';
import { explainReadFailure } from './read-failure.js';

let configured = false;

/** sharp's own default for limitInputPixels (0x3FFF²): images above it are refused. */
export const SHARP_PIXEL_LIMIT = 0x3fff * 0x3fff;

/** sharp.concurrency(1) and no operation cache: we run many small independent decodes at once. */
export function configureSharp(): void {
  if (configured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  configured = true;
}

export interface DecodeOptions {
  /**
   * Reduce while decoding so the short side is this many pixels (decode-size.ts), when it is longer;
   * an image whose short side is already at most this decodes exactly as without the option.
   */
  shortSide?: number;
  /** The stored width and height, when already read (image-header.ts); read from the file otherwise. */
  size?: { width: number; height: number };
  /** Refuse images with more pixels (default SHARP_PIXEL_LIMIT). */
  maxPixels?: number;
}

/**
 * Decodes any format sharp reads (first frame of animations), applies the EXIF orientation, and
 * converts grayscale/CMYK/16-bit/palette images to sRGB 8-bit. Alpha is dropped (not composited),
 * as PIL's convert('RGB') does. Rejects on unreadable or corrupt files, with the reason
 * (read-failure.ts) as the message.
 */
export async function decodeImage(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  configureSharp();
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const image = sharp(path, { failOn: 'error', limitInputPixels: options.maxPixels ?? SHARP_PIXEL_LIMIT }).rotate();
    const { shortSide } = options;
    if (shortSide !== undefined) {
      const { width = 0, height = 0 } = options.size ?? (await image.metadata());
      // JPEG and WebP shrink while decoding (DCT scaling / libwebp's scaled decode); the other formats are
      // decoded a band of rows at a time and shrunk as they stream, so the full image is never held
      // (except progressive JPEG, interlaced PNG, GIF and HEIF/AVIF: see decode-cost.ts).
      if (Math.min(width, height) > shortSide) {
        image.resize({ width: shortSide, height: shortSide, fit: 'outside', withoutEnlargement: true });
      }
    }
    decoded = await image.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(await explainReadFailure(path, err), { cause: err });
  }
  const { data, info } = decoded;
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
