// File -> 8-bit RGB pixels with sharp (libvips). One decode per sample; every view is cut from it.
// Parallelism comes from several decodes in flight on libuv's pool, each on one vips thread.
import sharp from 'sharp';
import type { RgbImage } from './image.js';

let configured = false;

/** sharp.concurrency(1) and no operation cache: we run many small independent decodes at once. */
export function configureSharp(): void {
  if (configured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  configured = true;
}

/**
 * Decodes any format sharp reads (first frame of animations), applies the EXIF orientation, and
 * converts grayscale/CMYK/16-bit/palette images to sRGB 8-bit. Alpha is dropped (not composited),
 * as PIL's convert('RGB') does. Rejects on unreadable or corrupt files.
 */
export async function decodeImage(path: string): Promise<RgbImage> {
  configureSharp();
  const { data, info } = await sharp(path, { failOn: 'error' })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
