// Crop + resize of decoded pixels into a planar float view, with the antialiased bilinear
// (triangle) filter of PIL's resize and torch's interpolate(mode='bilinear', antialias=True):
// when shrinking, the filter widens to cover every input pixel, so small crops of big images
// do not alias. Separable: a horizontal pass into a scratch buffer, then a vertical pass.
import type { CropBox, PlanarImage, RgbImage } from './image.js';
import { imageKernels, type ImageKernels } from './image-kernels.js';

/** For each output sample: first input index, number of taps, and `taps` normalised weights. */
export interface ResampleWeights {
  start: Int32Array;
  count: Int32Array;
  taps: number;
  weights: Float32Array;
}

export function resampleWeights(inSize: number, outSize: number): ResampleWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter has radius 1, stretched when shrinking
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.floor(center - support + 0.5), 0);
    const hi = Math.min(Math.floor(center + support + 0.5), inSize);
    let total = 0;
    const row = new Float64Array(hi - lo);
    for (let x = lo; x < hi; x++) {
      const w = Math.max(0, 1 - Math.abs((x - center + 0.5) / filterScale));
      row[x - lo] = w;
      total += w;
    }
    start[i] = lo;
    count[i] = hi - lo;
    for (let k = 0; k < hi - lo; k++) weights[i * taps + k] = total > 0 ? row[k] / total : 0;
  }
  return { start, count, taps, weights };
}

let scratch = new Float32Array(0);

/** Resizes `box` of `src` to out.width x out.height, writing planar floats in [0, 1] into `out`. */
export function resizeCrop(src: RgbImage, box: CropBox, out: PlanarImage): void {
  const horizontal = resampleWeights(box.width, out.width);
  const layout = resizeLayout(box, out.width, out.height, horizontal.taps);
  const k = imageKernels(layout.end / 4);
  if (k) resizeCropSimd(k, src, box, out, horizontal, layout);
  else resizeCropJs(src, box, out);
}

/** The resize in plain JS: horizontal pass over every row of the crop, then vertical (the fallback and reference). */
export function resizeCropJs(src: RgbImage, box: CropBox, out: PlanarImage): void {
  const { width: outW, height: outH, data: dst } = out;
  const horizontal = resampleWeights(box.width, outW);
  const vertical = resampleWeights(box.height, outH);
  const rows = box.height;
  if (scratch.length < rows * outW * 3) scratch = new Float32Array(rows * outW * 3);
  const tmp = scratch;
  const srcData = src.data;
  const stride = src.width * 3;

  // Horizontal: every row of the crop -> outW interleaved RGB samples.
  const hStart = horizontal.start;
  const hCount = horizontal.count;
  const hW = horizontal.weights;
  const hTaps = horizontal.taps;
  for (let y = 0; y < rows; y++) {
    const rowBase = (box.top + y) * stride + box.left * 3;
    let t = y * outW * 3;
    for (let x = 0; x < outW; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let p = rowBase + hStart[x] * 3;
      const wBase = x * hTaps;
      const n = hCount[x];
      for (let k = 0; k < n; k++, p += 3) {
        const w = hW[wBase + k];
        r += srcData[p] * w;
        g += srcData[p + 1] * w;
        b += srcData[p + 2] * w;
      }
      tmp[t++] = r;
      tmp[t++] = g;
      tmp[t++] = b;
    }
  }

  // Vertical: outH rows from the horizontal result, written planar and scaled to [0, 1].
  const plane = outW * outH;
  const vStart = vertical.start;
  const vCount = vertical.count;
  const vW = vertical.weights;
  const vTaps = vertical.taps;
  const rowLen = outW * 3;
  for (let y = 0; y < outH; y++) {
    const n = vCount[y];
    const wBase = y * vTaps;
    const first = vStart[y] * rowLen;
    const o = y * outW;
    for (let x = 0; x < outW; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let p = first + x * 3;
      for (let k = 0; k < n; k++, p += rowLen) {
        const w = vW[wBase + k];
        r += tmp[p] * w;
        g += tmp[p + 1] * w;
        b += tmp[p + 2] * w;
      }
      dst[o + x] = r / 255;
      dst[plane + o + x] = g / 255;
      dst[2 * plane + o + x] = b / 255;
    }
  }
}

/**
 * The same resize with WebAssembly SIMD kernels, vertical pass first (so the horizontal pass runs over outH rows
 * instead of every row of the crop): each output row is a weighted sum of whole crop rows, one kernel call per tap
 * straight from the 8-bit pixels; then each output pixel is a weighted sum of (r, g, b) vectors. The sums are the
 * JS path's, in a different order (float rounding).
 */
function resizeCropSimd(
  k: ImageKernels,
  src: RgbImage,
  box: CropBox,
  out: PlanarImage,
  horizontal: ResampleWeights,
  l: ReturnType<typeof resizeLayout>,
): void {
  const { width: outW, height: outH } = out;
  const vertical = resampleWeights(box.height, outH);
  const rowLen = box.width * 3;
  const stride = src.width * 3;
  for (let y = 0; y < box.height; y++) {
    const from = (box.top + y) * stride + box.left * 3;
    k.u8.set(src.data.subarray(from, from + rowLen), l.crop + y * rowLen);
  }
  for (let y = 0; y < outH; y++) {
    const o = 4 * y * rowLen;
    const first = vertical.start[y];
    const w = y * vertical.taps;
    k.bytesTap0(o, l.crop + first * rowLen, rowLen, vertical.weights[w]);
    for (let t = 1; t < vertical.count[y]; t++) k.bytesTap(o, l.crop + (first + t) * rowLen, rowLen, vertical.weights[w + t]);
  }
  const starts = new Int32Array(k.f32.buffer, l.starts, outW);
  for (let x = 0; x < outW; x++) starts[x] = 12 * horizontal.start[x];
  new Int32Array(k.f32.buffer, l.counts, outW).set(horizontal.count);
  k.f32.set(horizontal.weights, l.weights / 4);
  k.resampleRows(0, outH, 4 * rowLen, outW, l.starts, l.counts, l.weights, 4 * horizontal.taps, l.dst, 4 * outW * outH);
  out.data.set(k.f32.subarray(l.dst / 4, l.dst / 4 + 3 * outW * outH));
}

/** Byte offsets of resizeCropSimd's scratch: vertical result (+ one float read past its end), crop, weights, output. */
function resizeLayout(box: CropBox, outW: number, outH: number, taps: number) {
  const crop = 4 * (outH * box.width * 3 + 4);
  const starts = crop + 4 * Math.ceil((box.height * box.width * 3) / 4);
  const counts = starts + 4 * outW;
  const weights = counts + 4 * outW;
  const dst = weights + 4 * outW * taps;
  return { crop, starts, counts, weights, dst, end: dst + 12 * outW * outH };
}
