// `dinotrain embed` against its Python description (fixtures/preprocess/dinotrain_embed.py, the code of
// docs/pytorch.md): on bundled photos of several aspect ratios, shrunk to 64 px and grown to 224 px, whole and
// centre-cropped, the embeddings agree to 1e-4 and the preprocessed tensors to float rounding. The ONNX metadata
// spells the same preprocessing out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/embed/backbone-info.js';
import { openBackbone } from '../../src/embed/backbone.js';
import { embedFiles } from '../../src/embed/embed-files.js';
import { loadImageInto } from '../../src/embed/preprocess.js';
import { readModelInfo } from '../../src/graph/index.js';
import { decode, type FixtureTensor } from '../fixtures/models/fixture.js';
import { IMAGES, IMAGES_DIR, PREPROCESSED, preprocessModel, SIZES } from '../fixtures/preprocess/cases.js';

const fixtures = fileURLToPath(new URL('../fixtures/preprocess/', import.meta.url));
const reference = JSON.parse(readFileSync(join(fixtures, 'preprocess.json'), 'utf8')) as {
  images: string[];
  embeddings: Record<string, FixtureTensor>;
  preprocessed: Record<string, FixtureTensor>;
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('the fixture covers the images of cases.ts; docs/pytorch.md holds the Python that made it', () => {
  assert.deepEqual(reference.images, IMAGES);
  const doc = readFileSync(fileURLToPath(new URL('../../docs/pytorch.md', import.meta.url)), 'utf8');
  assert.ok(doc.includes(readFileSync(join(fixtures, 'dinotrain_embed.py'), 'utf8').trim()), 'docs/pytorch.md holds fixtures/preprocess/dinotrain_embed.py verbatim');
});

for (const size of SIZES) {
  for (const centerCrop of [false, true]) {
    const key = `${size}${centerCrop ? '-crop' : ''}`;
    test(`embed at ${size} px${centerCrop ? ', --center-crop' : ''}: the Python snippet's embeddings to 1e-4`, async () => {
      const backbone = await openBackbone(preprocessModel(size), { threads: 1 });
      try {
        const r = await embedFiles(backbone, IMAGES_DIR, IMAGES, { centerCrop, batchSize: 2 });
        assert.deepEqual(r.files, IMAGES);
        const want = decode(reference.embeddings[key]);
        assert.deepEqual([r.files.length, r.dim], want.shape);
        const d = maxAbsDiff(r.data, want.data);
        console.log(`embed ${key}: max abs diff to the Python snippet ${d.toExponential(2)}`);
        assert.ok(d <= 1e-4, String(d));
      } finally {
        await backbone.release();
      }
    });
  }
}

test('preprocessed tensors equal the Python snippet to float rounding', async () => {
  for (const [file, centerCrop] of PREPROCESSED) {
    const want = decode(reference.preprocessed[`${file}${centerCrop ? '-crop' : ''}`]);
    const got = new Float32Array(3 * 64 * 64);
    await loadImageInto(join(IMAGES_DIR, file), { height: 64, width: 64, mean: IMAGENET_MEAN, std: IMAGENET_STD, centerCrop }, got, 0);
    const d = maxAbsDiff(got, want.data);
    console.log(`${file}${centerCrop ? ' centre crop' : ''}: max abs diff ${d.toExponential(2)}`);
    assert.ok(d <= 2e-5, String(d));
  }
});

test('backbone.onnx metadata spells out the preprocessing', () => {
  const m = readModelInfo(preprocessModel(64)).metadata;
  assert.deepEqual(
    [m.image_size, m.color, m.resize, m.resize_antialias, m.resize_align_corners, m.center_crop, m.pixel_scale, m.layout],
    ['64', 'RGB', 'bilinear', 'true', 'false', 'false', '1/255', 'NCHW'],
  );
  assert.deepEqual(JSON.parse(m.mean), IMAGENET_MEAN);
  assert.match(m.preprocessing, /antialiased bilinear/);
});
