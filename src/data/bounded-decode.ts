// The loader's decoder: each image is decoded straight to the size its views need, refused above a
// pixel limit, and decodes in flight together stay within a memory budget, so a folder of huge images
// (decompression bombs included) trains in bounded memory.
import { decodeCost } from './decode-cost.js';
import { decodeImage, SHARP_PIXEL_LIMIT } from './decode.js';
import type { RgbImage } from './image.js';
import { readImageHeader } from './image-header.js';
import { Semaphore } from './semaphore.js';

export const DEFAULT_MAX_IMAGE_PIXELS = SHARP_PIXEL_LIMIT;
export const DEFAULT_DECODE_MEMORY_BYTES = 1024 * 1024 * 1024;

export interface BoundedDecodeOptions {
  /** Short side to reduce larger images to (decodeShortSide of the views). */
  shortSide: number;
  /** Images with more pixels (width x height, from the header) are refused (default sharp's limit, 0x3FFF²). */
  maxImagePixels?: number;
  /** Estimated peak bytes of all decodes in flight together (default 1 GiB); one larger decode runs alone. */
  memoryBytes?: number;
}

export function boundedDecoder(options: BoundedDecodeOptions): (path: string) => Promise<RgbImage> {
  const { shortSide, maxImagePixels = DEFAULT_MAX_IMAGE_PIXELS, memoryBytes = DEFAULT_DECODE_MEMORY_BYTES } = options;
  const budget = new Semaphore(memoryBytes);
  return async (path) => {
    const header = await readImageHeader(path);
    const pixels = header.width * header.height;
    if (pixels > maxImagePixels) {
      throw new Error(
        `${header.width}x${header.height} is ${megapixels(pixels)} Mpx, above the limit of ${megapixels(maxImagePixels)} Mpx (max_image_pixels)`,
      );
    }
    const cost = decodeCost(header, shortSide);
    await budget.acquire(cost);
    try {
      return await decodeImage(path, { shortSide, size: header, maxPixels: maxImagePixels });
    } finally {
      budget.release(cost);
    }
  };
}

function megapixels(pixels: number): string {
  return (pixels / 1e6).toFixed(1);
}
