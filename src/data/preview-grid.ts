// A PNG grid of what the model trains on: one row per image, the original (scaled to fit a
// global crop) then every view the method's augmentation makes of it, denormalised to 8-bit,
// local views at their own smaller size, centred vertically.
import sharp from 'sharp';
import type { TransformsConfig } from '../config/transforms.js';
import { configureSharp } from './decode.js';
import { DataLoader } from './loader.js';
import { denormalizeToRgb, type Normalization } from './normalize.js';
import { scanImageFolder, type ImageFileList } from './scan.js';

const PAD = 4;
const BACKGROUND = 32;

export interface GridCell {
  width: number;
  height: number;
  /** Interleaved RGB uint8. */
  rgb: Uint8Array;
}

/** Lays rows of cells on a dark canvas (PAD pixels between and around cells) and encodes a PNG. */
export async function cellsToPng(rows: GridCell[][]): Promise<Buffer> {
  const rowHeights = rows.map((r) => Math.max(0, ...r.map((c) => c.height)));
  const rowWidths = rows.map((r) => r.reduce((w, c) => w + c.width + PAD, PAD));
  const width = Math.max(PAD * 2, ...rowWidths);
  const height = rowHeights.reduce((h, rh) => h + rh + PAD, PAD);
  const canvas = new Uint8Array(width * height * 3).fill(BACKGROUND);
  let y0 = PAD;
  rows.forEach((row, r) => {
    let x0 = PAD;
    for (const cell of row) {
      const top = y0 + Math.floor((rowHeights[r] - cell.height) / 2);
      for (let y = 0; y < cell.height; y++) {
        const src = cell.rgb.subarray(y * cell.width * 3, (y + 1) * cell.width * 3);
        canvas.set(src, ((top + y) * width + x0) * 3);
      }
      x0 += cell.width + PAD;
    }
    y0 += rowHeights[r] + PAD;
  });
  configureSharp();
  return sharp(canvas, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Cell of sample `slot` of a batch view tensor [B, 3, S, S]. */
export function viewCell(view: Float32Array, size: number, slot: number, norm: Normalization): GridCell {
  const len = 3 * size * size;
  return { width: size, height: size, rgb: denormalizeToRgb(view.subarray(slot * len, (slot + 1) * len), size, size, norm) };
}

/** The whole image scaled to fit side x side, centred on a side x side cell. */
async function thumbnail(path: string, side: number): Promise<GridCell> {
  configureSharp();
  const { data, info } = await sharp(path, { failOn: 'error' })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .resize(side, side, { fit: 'contain', background: { r: BACKGROUND, g: BACKGROUND, b: BACKGROUND } })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export interface PreviewGridOptions {
  /** An image folder (scanned) or an already scanned list. */
  data: string | ImageFileList;
  /** the views to render (a method's preset with a config's overrides: resolveTransforms) */
  transforms: TransformsConfig;
  seed?: number;
  /** Rows (images), default 4. */
  images?: number;
  /** Show the whole image as the first column (default true). */
  showOriginal?: boolean;
  onWarning?: (message: string) => void;
}

/**
 * PNG bytes of the views of the first `images` samples of epoch 0 for `seed`: the same views
 * the first training batch with that seed holds for them.
 */
export async function renderPreviewGrid(options: PreviewGridOptions): Promise<Buffer> {
  const { transforms } = options;
  const files = typeof options.data === 'string' ? await scanImageFolder(options.data) : options.data;
  const count = Math.max(1, Math.min(options.images ?? 4, files.length));
  const loader = new DataLoader({
    files,
    transforms,
    batchSize: count,
    seed: options.seed ?? 0,
    dropLast: false,
    prefetch: 1,
    reuseBuffers: false,
    onWarning: options.onWarning,
  });
  let batch;
  try {
    batch = await loader.next();
  } finally {
    await loader.close();
  }
  const rows: GridCell[][] = [];
  for (let slot = 0; slot < batch.size; slot++) {
    const row: GridCell[] = [];
    if (options.showOriginal ?? true) row.push(await thumbnail(files.path(batch.indices[slot]), transforms.global.size));
    batch.views.forEach((view, v) => row.push(viewCell(view, batch.viewSizes[v], slot, transforms.normalize)));
    rows.push(row);
  }
  return cellsToPng(rows);
}
