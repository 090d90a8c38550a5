// Writes embeddings as CSV (header file,e0..), JSON Lines ({file, embedding}) or .npy + a file list.
import { rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/write-file.js';
import { encodeNpyFloat32 } from '../formats/npy.js';

export type EmbeddingFormat = 'csv' | 'jsonl' | 'npy';

export function formatFromPath(out: string): EmbeddingFormat {
  const ext = extname(out).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.npy') return 'npy';
  throw new UserError(`--out must end in .csv, .jsonl or .npy, got '${out}'`);
}

/** FILE.npy -> FILE.files.txt: the row names of an .npy, one per line. */
export function npyFileListPath(out: string): string {
  return join(dirname(out), `${basename(out, extname(out))}.files.txt`);
}

/** Shortest decimal that reads back as the same float32. */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  for (let p = 1; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(Number(v.toPrecision(9)));
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function rowValues(data: Float32Array, dim: number, row: number): string[] {
  const out = new Array<string>(dim);
  for (let j = 0; j < dim; j++) out[j] = formatFloat32(data[row * dim + j]);
  return out;
}

const ROWS_PER_CHUNK = 512;

function* csvChunks(files: string[], data: Float32Array, dim: number): Generator<string> {
  yield ['file', ...Array.from({ length: dim }, (_, j) => `e${j}`)].join(',') + '\n';
  for (let start = 0; start < files.length; start += ROWS_PER_CHUNK) {
    let chunk = '';
    for (let i = start; i < Math.min(files.length, start + ROWS_PER_CHUNK); i++) {
      chunk += `${csvField(files[i])},${rowValues(data, dim, i).join(',')}\n`;
    }
    yield chunk;
  }
}

function* jsonlChunks(files: string[], data: Float32Array, dim: number): Generator<string> {
  // Numbers are written by hand (shortest float32 form); JSON has no NaN/Infinity, so those become null.
  const num = (s: string) => (s === 'NaN' || s.endsWith('Infinity') ? 'null' : s);
  for (let start = 0; start < files.length; start += ROWS_PER_CHUNK) {
    let chunk = '';
    for (let i = start; i < Math.min(files.length, start + ROWS_PER_CHUNK); i++) {
      chunk += `{"file":${JSON.stringify(files[i])},"embedding":[${rowValues(data, dim, i).map(num).join(',')}]}\n`;
    }
    yield chunk;
  }
}

/**
 * Each file is written whole under a temporary name, synced and renamed (writeFileAtomic): a failure (a full disk)
 * leaves no partial file and names the path. Returns the paths written.
 */
export async function writeEmbeddings(out: string, files: string[], data: Float32Array, dim: number): Promise<string[]> {
  const format = formatFromPath(out);
  const opts = { durable: true, what: 'embeddings' };
  if (format === 'csv') await writeFileAtomic(out, csvChunks(files, data, dim), opts);
  else if (format === 'jsonl') await writeFileAtomic(out, jsonlChunks(files, data, dim), opts);
  else {
    if (files.some((f) => /[\r\n]/.test(f))) throw new UserError('a file name contains a line break; it cannot be listed in the .npy sidecar (use .jsonl)');
    await writeFileAtomic(out, encodeNpyFloat32(data, [files.length, dim]), opts);
    const list = npyFileListPath(out);
    // an .npy without its row names is of no use: it goes when its list cannot be written
    await writeFileAtomic(list, files.map((f) => `${f}\n`).join(''), opts).catch(async (err) => {
      await rm(out, { force: true });
      throw err;
    });
    return [out, list];
  }
  return [out];
}
