// Folder scanning and decoding of every colour mode to 8-bit RGB.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../src/data/decode.js';
import { ImageFileList, isImageFileName, scanImageFolder } from '../../src/data/scan.js';
import { UserError } from '../../src/util/errors.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-scan-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// A 24x16 gradient: R varies along x, G along y, B constant.
function gradient(width = 24, height = 16): Buffer {
  const b = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      b[i] = Math.round((x / (width - 1)) * 255);
      b[i + 1] = Math.round((y / (height - 1)) * 255);
      b[i + 2] = 90;
    }
  }
  return b;
}
const raw = { raw: { width: 24, height: 16, channels: 3 as const } };

describe('scanImageFolder', () => {
  it('finds images in nested folders by case-insensitive extension, ignores the rest, sorts', async () => {
    const root = join(dir, 'nested');
    for (const sub of ['b/deep/er', 'a', 'c.jpg', '.hidden']) mkdirSync(join(root, sub), { recursive: true });
    const files = [
      'z.PNG',
      'a/one.jpg',
      'a/Two.JPEG',
      'b/deep/er/three.webp',
      'b/four.TIF',
      'b/five.tiff',
      'b/six.gif',
      'b/seven.avif',
      'c.jpg/inside.Jpg',
    ];
    for (const f of files) writeFileSync(join(root, f), 'x');
    for (const f of ['notes.txt', 'a/readme.md', 'b/jpg', 'b/photo.jpg.bak', '.hidden/h.jpg', 'b/.dot.png']) {
      writeFileSync(join(root, f), 'x');
    }
    const list = await scanImageFolder(root);
    const got = Array.from({ length: list.length }, (_, i) => list.relativePath(i));
    assert.deepEqual(got, [...files].sort());
    assert.equal(list.path(0), join(root, got[0]));
  });

  it('is a UserError for a missing folder, a file, and a folder without images', async () => {
    await assert.rejects(scanImageFolder(join(dir, 'missing')), (e: unknown) => e instanceof UserError && /not found/.test(e.message));
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    await assert.rejects(scanImageFolder(file), (e: unknown) => e instanceof UserError && /not a folder/.test(e.message));
    const empty = join(dir, 'empty');
    mkdirSync(join(empty, 'sub'), { recursive: true });
    writeFileSync(join(empty, 'sub', 'a.txt'), 'x');
    await assert.rejects(scanImageFolder(empty), (e: unknown) => e instanceof UserError && /No image files/.test(e.message));
  });

  it('stores paths compactly: 200k paths in one buffer plus offsets', () => {
    const paths = Array.from({ length: 200_000 }, (_, i) => `class_${i % 1000}/img_${String(i).padStart(7, '0')}.jpg`);
    const list = ImageFileList.fromRelativePaths('/data', paths);
    assert.equal(list.length, paths.length);
    assert.equal(list.relativePath(123_456), paths[123_456]);
    assert.ok(list.byteSize < 30 * paths.length, `${list.byteSize} bytes`);
    assert.throws(() => list.relativePath(200_000), RangeError);
  });

  it('isImageFileName', () => {
    assert.ok(isImageFileName('a.JpG'));
    assert.ok(!isImageFileName('jpg'));
    assert.ok(!isImageFileName('a.jpg.txt'));
  });
});

describe('decodeImage converts every colour mode to 8-bit RGB', () => {
  // `loose`: a CMYK round trip pulls saturated colours into the printable gamut.
  async function check(name: string, write: (path: string) => Promise<unknown>, expectGray: boolean, loose = false) {
    const path = join(dir, name);
    await write(path);
    const img = await decodeImage(path);
    assert.equal(img.width, 24);
    assert.equal(img.height, 16);
    assert.equal(img.data.length, 24 * 16 * 3);
    // Top-right pixel: red high in the gradient (or a bright gray), bottom-left: green high.
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 24 + x) * 3, (y * 24 + x) * 3 + 3));
    const [r, g, b] = px(23, 0);
    if (loose) {
      const [r2, g2] = px(0, 15);
      assert.ok(r > g + 100 && g2 > r2, `${name}: ${[r, g, b]} / ${px(0, 15)}`);
    } else if (expectGray) {
      assert.ok(r === g && g === b, `${name}: gray pixel ${[r, g, b]}`);
    } else {
      assert.ok(r > 200 && g < 50, `${name}: top-right ${[r, g, b]}`);
      const [r2, g2] = px(0, 15);
      assert.ok(r2 < 50 && g2 > 200, `${name}: bottom-left ${px(0, 15)}`);
    }
  }

  it('RGB JPEG, PNG, WebP, TIFF, GIF, AVIF', async () => {
    const g = gradient();
    await check('rgb.jpg', (p) => sharp(g, raw).jpeg({ quality: 95 }).toFile(p), false);
    await check('rgb.png', (p) => sharp(g, raw).png().toFile(p), false);
    await check('rgb.webp', (p) => sharp(g, raw).webp({ lossless: true }).toFile(p), false);
    await check('rgb.tif', (p) => sharp(g, raw).tiff().toFile(p), false);
    await check('rgb.gif', (p) => sharp(g, raw).gif().toFile(p), false);
    await check('rgb.avif', (p) => sharp(g, raw).avif({ lossless: true }).toFile(p), false);
  });

  it('grayscale and grayscale + alpha', async () => {
    const g = gradient();
    await check('gray.png', (p) => sharp(g, raw).toColourspace('b-w').png().toFile(p), true);
    await check('gray-alpha.png', (p) => sharp(g, raw).toColourspace('b-w').ensureAlpha(0.5).png().toFile(p), true);
    const img = await decodeImage(join(dir, 'gray.png'));
    assert.ok(img.data[23 * 3] > img.data[0], 'gray keeps the gradient');
  });

  it('RGBA (alpha dropped, colours kept)', async () => {
    const rgba = Buffer.alloc(24 * 16 * 4);
    const g = gradient();
    for (let i = 0; i < 24 * 16; i++) {
      g.copy(rgba, i * 4, i * 3, i * 3 + 3);
      rgba[i * 4 + 3] = i % 2 ? 0 : 255;
    }
    await check('rgba.png', (p) => sharp(rgba, { raw: { width: 24, height: 16, channels: 4 } }).png().toFile(p), false);
  });

  it('CMYK JPEG', async () => {
    await check('cmyk.jpg', (p) => sharp(gradient(), raw).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(p), false, true);
    const meta = await sharp(join(dir, 'cmyk.jpg')).metadata();
    assert.equal(meta.space, 'cmyk');
  });

  it('16-bit RGB and 16-bit grayscale PNG', async () => {
    const g = gradient();
    const wide = new Uint16Array(g.length);
    for (let i = 0; i < g.length; i++) wide[i] = g[i] * 257;
    await check('rgb16.png', (p) => sharp(wide, raw).toColourspace('rgb16').png().toFile(p), false);
    const gray16 = new Uint16Array(24 * 16);
    for (let i = 0; i < gray16.length; i++) gray16[i] = (i % 24) * 2800;
    await check('gray16.png', (p) => sharp(gray16, { raw: { width: 24, height: 16, channels: 1 } }).toColourspace('grey16').png().toFile(p), true);
    const img = await decodeImage(join(dir, 'rgb16.png'));
    assert.ok(Math.abs(img.data[23 * 3] - 255) <= 1 && img.data[2] === 90, `16-bit scaled to 8-bit: ${img.data.subarray(0, 3)}`);
  });

  it('rejects corrupt and non-image files', async () => {
    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, Buffer.from('this is not a jpeg'));
    await assert.rejects(decodeImage(bad));
    const truncated = join(dir, 'truncated.png');
    const png = await sharp(gradient(), raw).png().toBuffer();
    writeFileSync(truncated, png.subarray(0, 40));
    await assert.rejects(decodeImage(truncated));
  });
});
