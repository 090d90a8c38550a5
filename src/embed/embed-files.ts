// Embeds a list of image files with a backbone: decode of batch i+1 overlaps inference of batch i.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Backbone } from './backbone.js';
import { configureSharp, loadImageInto, type PreprocessSpec } from './preprocess.js';

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface EmbedProgress {
  done: number;
  total: number;
  skipped: number;
}

export interface EmbedFilesOptions {
  batchSize?: number;
  centerCrop?: boolean;
  onProgress?: (p: EmbedProgress) => void;
  onSkip?: (s: SkippedFile) => void;
}

export interface Embeddings {
  /** Files (as given) that produced a row, in row order. */
  files: string[];
  /** Row-major [files.length, dim]. */
  data: Float32Array;
  dim: number;
  skipped: SkippedFile[];
  timing: { decodeMs: number; inferMs: number; totalMs: number };
}

interface DecodedBatch {
  files: string[];
  images: Float32Array;
  skipped: SkippedFile[];
  ms: number;
}

export function preprocessSpec(backbone: Backbone, centerCrop: boolean): PreprocessSpec {
  const { height, width, mean, std } = backbone.info;
  return { height, width, mean, std, centerCrop };
}

async function decodeBatch(root: string, files: string[], spec: PreprocessSpec, buffer: Float32Array): Promise<DecodedBatch> {
  const t0 = performance.now();
  const pixels = 3 * spec.height * spec.width;
  const results = await Promise.allSettled(files.map((f, i) => loadImageInto(join(root, f), spec, buffer, i * pixels)));
  const kept: string[] = [];
  const skipped: SkippedFile[] = [];
  results.forEach((r, i) => {
    if (r.status === 'rejected') {
      skipped.push({ file: files[i], reason: String((r.reason as Error)?.message ?? r.reason).split('\n')[0] });
      return;
    }
    if (kept.length !== i) buffer.copyWithin(kept.length * pixels, i * pixels, (i + 1) * pixels);
    kept.push(files[i]);
  });
  return { files: kept, images: buffer, skipped, ms: performance.now() - t0 };
}

/** `files` are relative to `root`; unreadable images are skipped and reported, never fatal. */
export async function embedFiles(backbone: Backbone, root: string, files: string[], opts: EmbedFilesOptions = {}): Promise<Embeddings> {
  configureSharp();
  const t0 = performance.now();
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 64));
  const spec = preprocessSpec(backbone, opts.centerCrop ?? false);
  const pixels = 3 * spec.height * spec.width;
  // Two buffers: one being decoded into while the other is read by ORT.
  const buffers = [new Float32Array(batchSize * pixels), new Float32Array(batchSize * pixels)];
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));

  const keptFiles: string[] = [];
  const skipped: SkippedFile[] = [];
  let data = new Float32Array(0);
  let dim = 0;
  let rows = 0;
  let decodeMs = 0;
  let inferMs = 0;

  let next = batches.length > 0 ? decodeBatch(root, batches[0], spec, buffers[0]) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const decoded = await next!;
    next = b + 1 < batches.length ? decodeBatch(root, batches[b + 1], spec, buffers[(b + 1) % 2]) : undefined;
    decodeMs += decoded.ms;
    for (const s of decoded.skipped) {
      skipped.push(s);
      opts.onSkip?.(s);
    }
    if (decoded.files.length > 0) {
      const t = performance.now();
      let out: { data: Float32Array; dim: number };
      try {
        out = await backbone.embed(decoded.images, decoded.files.length);
      } catch (err) {
        await next?.catch(() => undefined); // let the in-flight decode settle before failing
        throw err;
      }
      inferMs += performance.now() - t;
      if (rows === 0) {
        dim = out.dim;
        data = new Float32Array(files.length * dim);
      }
      data.set(out.data, rows * dim);
      rows += decoded.files.length;
      keptFiles.push(...decoded.files);
    }
    opts.onProgress?.({ done: keptFiles.length + skipped.length, total: files.length, skipped: skipped.length });
  }
  return {
    files: keptFiles,
    data: rows * dim === data.length ? data : data.slice(0, rows * dim),
    dim,
    skipped,
    timing: { decodeMs, inferMs, totalMs: performance.now() - t0 },
  };
}
