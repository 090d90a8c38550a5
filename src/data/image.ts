// The two pixel layouts the pipeline passes around.

/** Decoded pixels: interleaved RGB, 8 bits per channel, row-major (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A crop rectangle in whole pixels (torchvision's i, j, h, w). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * A view while it is augmented: planar RGB (CHW) floats in [0, 1]. `data` may be a subarray of a
 * batch tensor, so ops work in place on exactly width*height*3 values.
 */
export interface PlanarImage {
  width: number;
  height: number;
  data: Float32Array;
}
