// JPEG and PNG headers parsed from a file's first bytes in JS: the size and layout the decode budget needs,
// about five times cheaper than a sharp metadata call (a trip to libuv's pool and a libvips loader), which
// matters at one header per sample. Anything else, or anything unexpected, is left to sharp (undefined).
import type { ImageHeader } from './image-header.js';

// SOF markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC); the progressive ones are C2, C6, CA, CE.
const isStartOfFrame = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const isProgressiveFrame = (m: number) => m === 0xc2 || m === 0xc6 || m === 0xca || m === 0xce;

/** Walks the marker segments up to the first frame header; undefined when it lies past `bytes`. */
export function parseJpegHeader(bytes: Buffer): ImageHeader | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // no length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // image data before any frame header
    if (isStartOfFrame(marker)) {
      if (pos + 10 > bytes.length) return undefined;
      const height = bytes.readUInt16BE(pos + 5);
      const width = bytes.readUInt16BE(pos + 7);
      if (width === 0 || height === 0) return undefined; // height given later (DNL): rare, let sharp read it
      return {
        format: 'jpeg',
        width,
        height,
        channels: bytes[pos + 9],
        bytesPerSample: bytes[pos + 4] > 8 ? 2 : 1,
        progressive: isProgressiveFrame(marker),
      };
    }
    pos += 2 + bytes.readUInt16BE(pos + 2);
  }
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel by PNG colour type (palette: RGB). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

/** The IHDR chunk, which must come first, and a tRNS chunk before the image data (an alpha channel for sharp). */
export function parsePngHeader(bytes: Buffer): ImageHeader | undefined {
  if (bytes.length < 29 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  let channels = PNG_CHANNELS[bytes[25]];
  if (width === 0 || height === 0 || channels === undefined) return undefined;
  for (let pos = 33; ; ) {
    if (pos + 8 > bytes.length) return undefined; // the chunks before the image data run past `bytes`
    const type = bytes.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT') break;
    if (type === 'tRNS') channels++;
    pos += 12 + bytes.readUInt32BE(pos);
  }
  return { format: 'png', width, height, channels, bytesPerSample: bytes[24] === 16 ? 2 : 1, progressive: bytes[28] === 1 };
}
