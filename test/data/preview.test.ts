// The preview PNG grid and the `dinotrain preview` command.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { previewCommand } from '../../src/cli/preview.js';
import { resolveTransforms } from '../../src/config/transforms.js';
import { methodNamed } from '../../src/methods/index.js';
import { DataLoader } from '../../src/data/loader.js';
import { denormalizeToRgb } from '../../src/data/normalize.js';
import { renderPreviewGrid } from '../../src/data/preview-grid.js';
import { scanImageFolder } from '../../src/data/scan.js';
import { UserError } from '../../src/util/errors.js';

const EXAMPLES = join(import.meta.dirname, '../../examples/images');
let dir: string;
let data: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dinotrain-data-preview-'));
  data = join(dir, 'imgs');
  mkdirSync(data);
  for (const [i, name] of ['chelsea-0.jpg', 'coffee-0.jpg', 'rocket-0.jpg'].entries()) {
    await sharp(join(EXAMPLES, name)).resize(60, 44).jpeg().toFile(join(data, `p${i}.jpg`));
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

// PAD 4 around and between cells; each row: original (global size) + views.
function expectedSize(rows: number, global: number, globals: number, local: number, locals: number) {
  return {
    width: 4 + (global + 4) * (1 + globals) + (local + 4) * locals,
    height: 4 + rows * (global + 4),
  };
}

describe('renderPreviewGrid', () => {
  it('one row per image with the original, every global and local view at its own size', async () => {
    const png = await renderPreviewGrid({
      data,
      transforms: resolveTransforms(methodNamed('dino').transforms, { global: { size: 40 }, local: { size: 20 } }),
      images: 2,
      seed: 3,
    });
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.deepEqual({ width: meta.width, height: meta.height }, expectedSize(2, 40, 2, 20, 6));
  });

  it('shows the views of the first training batch for that seed', async () => {
    const override = { global: { size: 24 }, local: { count: 0, size: 8 } };
    const t = resolveTransforms(methodNamed('simclr').transforms, override);
    const png = await renderPreviewGrid({ data, transforms: t, images: 1, seed: 11 });
    const { data: pixels, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const l = new DataLoader({ files: await scanImageFolder(data), transforms: t, batchSize: 1, seed: 11 });
    const b = await l.next();
    await l.close();
    // Second cell of the row (after the original): global view 1 of sample 0.
    const expected = denormalizeToRgb(b.views[0], 24, 24, t.normalize);
    const x0 = 4 + 24 + 4;
    for (let y = 0; y < 24; y += 5) {
      for (let x = 0; x < 24; x += 3) {
        for (let c = 0; c < 3; c++) {
          assert.equal(pixels[((4 + y) * info.width + x0 + x) * info.channels + c], expected[(y * 24 + x) * 3 + c]);
        }
      }
    }
  });
});

describe('dinotrain preview', () => {
  it('writes the PNG; --config overrides the preset from a YAML transforms section', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'method: dinov2\ntransforms:\n  global:\n    size: 28\n  local:\n    size: 14\n    count: 3\n');
    const out = join(dir, 'views.png');
    await previewCommand().parseAsync(['--data', data, '--out', out, '--images', '2', '--config', config, '--seed', '5'], {
      from: 'user',
    });
    const meta = await sharp(readFileSync(out)).metadata();
    assert.deepEqual({ width: meta.width, height: meta.height }, expectedSize(2, 28, 2, 14, 3));
  });

  it('config errors are UserErrors naming the problem', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ transforms: { flip_p: 3 } }));
    await assert.rejects(
      previewCommand().parseAsync(['--data', data, '--out', join(dir, 'x.png'), '--config', bad], { from: 'user' }),
      (e: unknown) => e instanceof UserError && /transforms\.flip_p/.test(e.message),
    );
    const badMethod = join(dir, 'm.yaml');
    writeFileSync(badMethod, 'method: byol\n');
    const preview = (config: string) => previewCommand().parseAsync(['--data', data, '--out', join(dir, 'x.png'), '--config', config], { from: 'user' });
    await assert.rejects(preview(badMethod), (e: unknown) => e instanceof UserError && /method: unknown method 'byol'/.test(e.message));
    await assert.rejects(preview(join(dir, 'missing.yaml')), (e: unknown) => e instanceof UserError && /missing\.yaml/.test(e.message));
    await assert.rejects(
      previewCommand().parseAsync(['--data', join(dir, 'nope'), '--out', join(dir, 'x.png')], { from: 'user' }),
      (e: unknown) => e instanceof UserError && /not found/.test(e.message),
    );
  });
});
