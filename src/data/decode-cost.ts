// Memory one decode needs at its peak, estimated from the header, to bound the decodes in flight together.
// Measured with sharp 0.35 / libvips 8.18 (one vips thread; 3000² to 16000² images reduced to a 700 px short
// side; RSS above an idle process):
// - baseline JPEG, WebP: ~20 MB (shrink-on-load); non-interlaced PNG, TIFF: ~6.5 KB per source column
//   (rows buffered while streaming), 100 MB at 16000 px wide;
// - the whole image held, reduced or not: progressive JPEG (its DCT coefficients) and interlaced PNG
//   3-5 B/px for 8-bit RGB, 13 B/px for 16-bit RGBA; GIF 6-8 B/px; HEIF/AVIF 18-20 B/px.
import type { ImageHeader } from './image-header.js';

const STREAMED_BYTES_PER_COLUMN = 8 * 1024;
const STREAMING_FORMATS = new Set(['jpeg', 'png', 'webp', 'tiff']);
const WHOLE_IMAGE_BYTES_PER_PIXEL: Record<string, number> = { heif: 20, gif: 8 };

/** Width and height after the reduction to `shortSide` (decode.ts): the short side becomes shortSide. */
export function decodedSize(width: number, height: number, shortSide: number): { width: number; height: number } {
  const short = Math.min(width, height);
  if (short <= shortSide) return { width, height };
  const f = shortSide / short;
  return { width: Math.max(1, Math.round(width * f)), height: Math.max(1, Math.round(height * f)) };
}

/** Bytes a decode of this image to `shortSide` holds at its peak (an upper estimate). */
export function decodeCost(header: ImageHeader, shortSide: number): number {
  const out = decodedSize(header.width, header.height, shortSide);
  const output = out.width * out.height * 3;
  if (STREAMING_FORMATS.has(header.format) && !header.progressive) return output + header.width * STREAMED_BYTES_PER_COLUMN;
  const perPixel = WHOLE_IMAGE_BYTES_PER_PIXEL[header.format] ?? Math.max(4, (16 * header.channels * header.bytesPerSample) / 10);
  return output + Math.ceil(header.width * header.height * perPixel);
}
