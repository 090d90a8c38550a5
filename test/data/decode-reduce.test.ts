// Decoding reduced to the size the views need: images already small enough decode byte for byte as a plain
// full decode (so the loader's batches are unchanged), larger ones come out with the bound as short side.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { boundedDecoder } from '../../src/data/bounded-decode.js';
import { decodeImage } from '../../src/data/decode.js';
import { decodeShortSide } from '../../src/data/decode-size.js';
import type { PlanarImage, RgbImage } from '../../src/data/image.js';
import { DataLoader } from '../../src/data/loader.js';
import { resizeCrop } from '../../src/data/resize.js';
import { scanImageFolder } from '../../src/data/scan.js';
import { viewSpecs } from '../../src/data/views.js';
import { DINO_TRANSFORMS } from '../../src/methods/dino/transforms.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/images');
const SIDE = decodeShortSide(viewSpecs(DINO_TRANSFORMS)); // 693

/** The full-resolution decode every image got before decodes were reduced. */
async function fullDecode(path: string): Promise<RgbImage> {
  const { data, info } = await sharp(path, { failOn: 'error' })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A photo-like width x height image: a bundled example photo resized (no flat areas). */
function photo(width: number, height: number) {
  return sharp(join(EXAMPLES, 'astronaut-0.jpg')).resize(width, height, { fit: 'fill' });
}

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-reduce-'));
  const small = join(dir, 'small');
  mkdirSync(small);
  // at the bound, below it, every format and colour mode, and an EXIF rotation that swaps the sides
  await photo(SIDE, 1000).png().toFile(join(small, 'at-bound.png'));
  await photo(1200, SIDE).jpeg({ quality: 90 }).toFile(join(small, 'at-bound-wide.jpg'));
  await photo(SIDE, SIDE).jpeg({ progressive: true }).toFile(join(small, 'square.jpg'));
  await photo(640, 480).webp().toFile(join(small, 'photo.webp'));
  await photo(300, 200).tiff().toFile(join(small, 'photo.tiff'));
  await photo(320, 240).gif().toFile(join(small, 'photo.gif'));
  await photo(200, 150).avif().toFile(join(small, 'photo.avif'));
  await photo(500, 400).toColourspace('b-w').png().toFile(join(small, 'gray.png'));
  await photo(400, 300).toColourspace('cmyk').jpeg().toFile(join(small, 'cmyk.jpg'));
  await photo(300, 220).toColourspace('rgb16').ensureAlpha(0.5).png().toFile(join(small, 'rgba16.png'));
  await photo(SIDE, 900).jpeg().withMetadata({ orientation: 6 }).toFile(join(small, 'rotated.jpg'));
  for (const name of readdirSync(EXAMPLES).slice(0, 12)) await sharp(join(EXAMPLES, name)).toFile(join(small, `example-${name}`));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function meanAbsDifference(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

function sameBytes(a: RgbImage, b: RgbImage): boolean {
  return a.width === b.width && a.height === b.height && Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) === 0;
}

describe('decoding reduced to the views’ needs', () => {
  it('an image whose short side is at most the bound decodes byte for byte as a full decode', async () => {
    const decode = boundedDecoder({ shortSide: SIDE });
    const names = readdirSync(join(dir, 'small'));
    assert.ok(names.length >= 20);
    for (const name of names) {
      const path = join(dir, 'small', name);
      const full = await fullDecode(path);
      assert.ok(sameBytes(await decode(path), full), name);
      assert.ok(sameBytes(await decodeImage(path, { shortSide: SIDE }), full), name);
    }
  });

  it('the loader gives the same batches byte for byte as with full decodes', async () => {
    const files = await scanImageFolder(join(dir, 'small'));
    const batches = async (decode?: (path: string) => Promise<RgbImage>) => {
      const loader = new DataLoader({ files, transforms: DINO_TRANSFORMS, batchSize: 4, seed: 3, decode });
      const out: string[][] = [];
      for (let i = 0; i < files.length / 4; i++) {
        const b = await loader.next();
        out.push([Buffer.from(b.indices.buffer).toString('hex'), ...b.views.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'))]);
      }
      await loader.close();
      return out;
    };
    assert.deepEqual(await batches(), await batches(fullDecode));
  });

  it('a larger image comes out with the bound as its short side, after the EXIF rotation', async () => {
    const wide = join(dir, 'wide.jpg');
    await photo(3000, 2000).jpeg().toFile(wide);
    const rotated = join(dir, 'rotated-large.png');
    await photo(1600, 1200).png().withMetadata({ orientation: 6 }).toFile(rotated);
    const decode = boundedDecoder({ shortSide: SIDE });
    const a = await decode(wide);
    assert.deepEqual([a.width, a.height], [Math.round((3000 * SIDE) / 2000), SIDE]);
    const b = await decode(rotated);
    assert.deepEqual([b.width, b.height], [SIDE, Math.round((1600 * SIDE) / 1200)]);
  });

  it('views of a reduced decode match views of the full decode up to the resize kernels', async () => {
    // three times the bound each way, so every crop box of the reduced image is exactly a box of the full one
    const path = join(dir, 'big.png');
    await photo(3 * 924, 3 * SIDE).png().toFile(path);
    const full = await fullDecode(path);
    const reduced = await decodeImage(path, { shortSide: SIDE });
    assert.deepEqual([reduced.width, reduced.height], [924, SIDE]);
    const tooSmall = await decodeImage(path, { shortSide: SIDE / 3 }); // 308x231: the smallest crops are upsampled
    // the whole image, and about the smallest crops a 224 px view can draw (scale 0.14, aspect 3/4 and 4/3);
    // multiples of 3, to cut the same boxes from the decode reduced three times more
    const boxes = [[0, 0, 924, SIDE], [102, 51, 225, 300], [501, 300, 300, 225]];
    for (const [left, top, width, height] of boxes) {
      const view = (img: RgbImage, f: number): Float32Array => {
        const out: PlanarImage = { width: 224, height: 224, data: new Float32Array(3 * 224 * 224) };
        resizeCrop(img, { left: left * f, top: top * f, width: width * f, height: height * f }, out);
        return out.data;
      };
      const reference = view(full, 3);
      const mean = meanAbsDifference(reference, view(reduced, 1));
      assert.ok(mean < 0.004, `box ${[left, top, width, height]}: mean |difference| ${mean.toFixed(4)} (in [0, 1] units)`);
      if (width < 924) {
        const coarse = meanAbsDifference(reference, view(tooSmall, 1 / 3));
        assert.ok(coarse > 3 * mean, `a decode below the bound differs more: ${coarse.toFixed(4)} vs ${mean.toFixed(4)}`);
      }
    }
  });
});
