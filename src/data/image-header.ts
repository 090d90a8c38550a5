// What an image file's header says, read without decoding its pixels: JPEG and PNG from the first bytes
// (header-parse.ts), other formats with sharp's metadata (a few KB read by libvips).
import { open } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { configureSharp } from './decode.js';
import { parseJpegHeader, parsePngHeader } from './header-parse.js';
import { osReason } from './os-error.js';
import { explainReadFailure } from './read-failure.js';

export interface ImageHeader {
  /** sharp's format name: 'jpeg', 'png', 'webp', 'tiff', 'gif', 'heif', ... */
  format: string;
  /** Stored size (before EXIF orientation; the first page of a multi-page file). */
  width: number;
  height: number;
  channels: number;
  bytesPerSample: number;
  /** Progressive JPEG or interlaced (Adam7) PNG: the decoder holds the whole image, it cannot stream. */
  progressive: boolean;
}

/** Enough for the segments before a JPEG's frame header (EXIF, ICC profile, thumbnails) in nearly all files. */
const HEAD_BYTES = 64 * 1024;

const SAMPLE_BYTES: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };

/** Rejects with the reason (the OS's, or explainReadFailure's) when the file cannot be read or is not an image. */
export async function readImageHeader(path: string): Promise<ImageHeader> {
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(HEAD_BYTES);
      const { bytesRead } = await fh.read(buffer, 0, HEAD_BYTES, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new Error(osReason(err) ?? (err as Error).message, { cause: err });
  }
  if (head.length === 0) throw new Error('empty file (0 bytes)');
  return parseJpegHeader(head) ?? parsePngHeader(head) ?? (await headerFromMetadata(path));
}

/** The header as sharp's metadata gives it (every format sharp reads). */
export async function headerFromMetadata(path: string): Promise<ImageHeader> {
  configureSharp();
  let meta: Metadata;
  try {
    meta = await sharp(path).metadata();
  } catch (err) {
    throw new Error(await explainReadFailure(path, err), { cause: err });
  }
  const { format, width, height } = meta;
  if (!format || !width || !height) throw new Error('the header holds no image size');
  return {
    format,
    width,
    height,
    channels: meta.channels ?? 3,
    bytesPerSample: SAMPLE_BYTES[meta.depth ?? 'uchar'] ?? 1,
    progressive: meta.isProgressive ?? false,
  };
}
