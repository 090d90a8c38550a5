// RandomResizedCrop's box sampling with torchvision's semantics: up to 10 draws of (area, log-ratio),
// the first that fits wins; otherwise a centre crop clamped to the ratio range.
import type { Rng } from '../util/rng.js';
import type { CropBox } from './image.js';

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function sampleCropBox(
  rng: Rng,
  imageWidth: number,
  imageHeight: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = imageWidth * imageHeight;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const width = roundHalfEven(Math.sqrt(targetArea * aspect));
    const height = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (width > 0 && width <= imageWidth && height > 0 && height <= imageHeight) {
      const top = rng.int(imageHeight - height + 1);
      const left = rng.int(imageWidth - width + 1);
      return { top, left, height, width };
    }
  }
  // Fallback: the whole image, narrowed to the nearest allowed aspect ratio, centred.
  const inRatio = imageWidth / imageHeight;
  let width = imageWidth;
  let height = imageHeight;
  if (inRatio < ratio[0]) {
    height = Math.max(1, roundHalfEven(width / ratio[0]));
  } else if (inRatio > ratio[1]) {
    width = Math.max(1, roundHalfEven(height * ratio[1]));
  }
  return { top: Math.floor((imageHeight - height) / 2), left: Math.floor((imageWidth - width) / 2), height, width };
}
