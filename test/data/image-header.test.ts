// Image headers read in JS from the first bytes (JPEG, PNG) agree with sharp's metadata, and other formats
// or unusual layouts fall back to it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseJpegHeader, parsePngHeader } from '../../src/data/header-parse.js';
import { headerFromMetadata, readImageHeader } from '../../src/data/image-header.js';
import { writeFlatPng } from '../fixtures/data/flat-png.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-header-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const base = (channels: 3 | 4 = 3) => sharp({ create: { width: 70, height: 50, channels, background: { r: 200, g: 90, b: 30, alpha: 0.5 } } });

describe('readImageHeader', () => {
  it('JPEG and PNG headers parsed in JS equal sharp’s metadata, in every layout', async () => {
    const files: [string, () => Promise<unknown>][] = [
      ['baseline.jpg', () => base().jpeg().toFile(join(dir, 'baseline.jpg'))],
      ['progressive.jpg', () => base().jpeg({ progressive: true }).toFile(join(dir, 'progressive.jpg'))],
      ['gray.jpg', () => base().toColourspace('b-w').jpeg().toFile(join(dir, 'gray.jpg'))],
      ['cmyk.jpg', () => base().toColourspace('cmyk').jpeg().toFile(join(dir, 'cmyk.jpg'))],
      ['exif.jpg', () => base().jpeg().withMetadata({ orientation: 6 }).withIccProfile('p3').toFile(join(dir, 'exif.jpg'))],
      ['rgb.png', () => base().png().toFile(join(dir, 'rgb.png'))],
      ['rgba.png', () => base(4).png().toFile(join(dir, 'rgba.png'))],
      ['gray.png', () => base().toColourspace('b-w').png().toFile(join(dir, 'gray.png'))],
      ['gray-alpha.png', () => base(4).toColourspace('b-w').png().toFile(join(dir, 'gray-alpha.png'))],
      ['rgb16.png', () => base().toColourspace('rgb16').png().toFile(join(dir, 'rgb16.png'))],
      ['interlaced.png', () => base().png({ progressive: true }).toFile(join(dir, 'interlaced.png'))],
      ['palette.png', () => base().png({ palette: true }).toFile(join(dir, 'palette.png'))],
      ['palette-alpha.png', () => base(4).png({ palette: true }).toFile(join(dir, 'palette-alpha.png'))],
      ['flat.png', async () => writeFlatPng(join(dir, 'flat.png'), 3000, 2000, [1, 2, 3], true)],
    ];
    for (const [name, write] of files) {
      await write();
      const path = join(dir, name);
      const head = readFileSync(path);
      assert.ok(parseJpegHeader(head) ?? parsePngHeader(head), `${name} parsed in JS`);
      assert.deepEqual(await readImageHeader(path), await headerFromMetadata(path), name);
    }
  });

  it('a JPEG whose frame header lies past the first 64 KB, and other formats, are read by sharp', async () => {
    const jpeg = await base().jpeg().toBuffer();
    const app15 = Buffer.alloc(4 + 65000, 0x20);
    app15.writeUInt16BE(0xffef, 0);
    app15.writeUInt16BE(65002, 2);
    const padded = join(dir, 'padded.jpg');
    writeFileSync(padded, Buffer.concat([jpeg.subarray(0, 2), app15, app15, jpeg.subarray(2)]));
    assert.equal(parseJpegHeader(readFileSync(padded).subarray(0, 64 * 1024)), undefined);
    assert.deepEqual(await readImageHeader(padded), { format: 'jpeg', width: 70, height: 50, channels: 3, bytesPerSample: 1, progressive: false });
    for (const [name, write] of [
      ['a.webp', (p: string) => base().webp().toFile(p)],
      ['a.gif', (p: string) => base().gif().toFile(p)],
      ['a.tif', (p: string) => base().tiff().toFile(p)],
    ] as const) {
      const path = join(dir, name);
      await write(path);
      const h = await readImageHeader(path);
      assert.deepEqual([h.width, h.height], [70, 50], name);
    }
  });

  it('an unreadable file is rejected with the OS reason, an empty one as empty', async () => {
    await assert.rejects(readImageHeader(join(dir, 'missing.png')), { message: 'file not found (ENOENT)' });
    await assert.rejects(readImageHeader(dir), { message: 'is a directory, not a file (EISDIR)' });
    writeFileSync(join(dir, 'empty.jpg'), '');
    await assert.rejects(readImageHeader(join(dir, 'empty.jpg')), { message: 'empty file (0 bytes)' });
  });
});
