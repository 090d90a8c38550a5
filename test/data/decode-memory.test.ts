// Decode memory under hostile images (decompression bombs: a flat colour compresses to ~31 KB per 16000x16000
// PNG, 768 MB as RGB), measured as the peak RSS of a child process that runs the DataLoader over them with
// 8 decodes in flight.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFlatPng } from '../fixtures/data/flat-png.js';

const CHILD = join(import.meta.dirname, '../fixtures/data/loader-peak-rss.ts');
const COLOURS: [number, number, number][] = [[200, 30, 30], [30, 200, 30], [30, 30, 200], [120, 120, 20]];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-memory-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function writeFolder(name: string, side: number, interlaced: boolean): string {
  const folder = join(dir, name);
  mkdirSync(folder);
  COLOURS.forEach((c, i) => writeFlatPng(join(folder, `img${i}.png`), side, side, c, interlaced));
  return folder;
}

/** Peak RSS in MB of the loader taking one batch (and prefetching the next) over `folder`. */
function peakRssMb(folder: string, batchSize: number, option?: string): number {
  const args = ['--import', 'tsx', CHILD, folder, String(batchSize), ...(option ? [option] : [])];
  // a libuv pool of 8 runs all 8 decodes together (the default 4 would halve them)
  const out = execFileSync(process.execPath, args, { env: { ...process.env, UV_THREADPOOL_SIZE: '8' }, encoding: 'utf8' });
  const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { maxRssMb: number; skippedFiles: number; batches: number };
  assert.equal(result.batches, 1);
  assert.equal(result.skippedFiles, 0);
  return result.maxRssMb;
}

describe('decode memory', () => {
  it('a folder of four 16000x16000 PNGs trains under 1.5 GB RSS', { timeout: 180_000 }, (t) => {
    // a batch of 4 and the prefetched one: 8 decodes, each image twice; ~6.7 GB when decoded at full size
    const peak = peakRssMb(writeFolder('streamed', 16000, false), 4);
    t.diagnostic(`peak RSS ${peak} MB`);
    assert.ok(peak < 1500, `peak RSS ${peak} MB`);
  });

  it('interlaced PNGs, which cannot stream, decode within the memory budget', { timeout: 180_000 }, (t) => {
    // each 6000x6000 interlaced decode holds ~120 MB whatever its output size: four at once peak at ~550 MB,
    // a budget of 200 MiB lets them run one at a time
    const peak = peakRssMb(writeFolder('interlaced', 6000, true), 2, '200');
    t.diagnostic(`peak RSS ${peak} MB`);
    assert.ok(peak < 400, `peak RSS ${peak} MB`);
  });
});
