const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngInfo {
  width: number;
  height: number;
  /** Channels as TensorBoard's Summary.Image.colorspace counts them: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
}

/** Reads width, height and channel count from a PNG's IHDR chunk; throws if the bytes are not a PNG. */
export function pngInfo(png: Uint8Array): PngInfo {
  const isPng = png.length >= 26 && SIGNATURE.every((b, i) => png[i] === b) &&
    String.fromCharCode(png[12]!, png[13]!, png[14]!, png[15]!) === 'IHDR';
  if (!isPng) throw new Error('image is not a PNG');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const colorType = png[25]!;
  const channels = colorType === 0 ? 1 : colorType === 4 ? 2 : colorType === 6 ? 4 : 3; // 2 RGB, 3 palette
  return { width: view.getUint32(16), height: view.getUint32(20), channels };
}
