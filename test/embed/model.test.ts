// backbone.onnx handling: metadata read from the protobuf without decoding weights, the I/O
// contract, overrides for foreign models, fixed-batch models, and the CLI commands end to end.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import onnxProto from 'onnx-proto';
import { embedCommand } from '../../src/cli/embed.js';
import { openBackbone } from '../../src/embed/backbone.js';
import { embedFolder } from '../../src/embed/embed-folder.js';
import { readModelMetadata } from '../../src/formats/onnx-metadata.js';
import { UserError } from '../../src/util/errors.js';
import { writeLabelledSet } from '../fixtures/eval/synthetic-images.js';
import { tinyBackbone } from '../fixtures/eval/tiny-backbone.js';

const { onnx } = onnxProto;
let dir: string;
let images: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dinotrain-embed-model-'));
  images = join(dir, 'images');
  await writeLabelledSet(images, 3, 7); // 9 images
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const userError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

test('readModelMetadata matches a full onnx-proto decode, with a large initializer skipped unread', () => {
  const bytes = tinyBackbone({ mean: [0.1, 0.2, 0.3] });
  const decoded = onnx.ModelProto.decode(bytes);
  const expected = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
  assert.deepEqual(readModelMetadata(bytes), expected);
  assert.equal(readModelMetadata(bytes).mean, '[0.1,0.2,0.3]');

  // metadata after a 40 MB graph, unicode values, and an unknown future field
  const big = onnx.ModelProto.create({
    irVersion: 8,
    graph: { name: 'g', initializer: [{ name: 'w', dataType: 1, dims: [10_000_000], rawData: new Uint8Array(40_000_000) }] },
    metadataProps: [{ key: 'model', value: 'vit-tiny/16 ✓' }],
  });
  const bigBytes = onnx.ModelProto.encode(big).finish();
  const t0 = performance.now();
  assert.deepEqual(readModelMetadata(bigBytes), { model: 'vit-tiny/16 ✓' });
  assert.ok(performance.now() - t0 < 50, 'skips the graph instead of decoding it');
  assert.deepEqual(readModelMetadata(tinyBackbone({ metadata: false })), {});
  assert.throws(() => readModelMetadata(Buffer.from([0x0a, 0xff, 0xff, 0xff])));
});

test('openBackbone: dinotrain metadata gives size, mean, std; overrides win', async () => {
  const b = await openBackbone(tinyBackbone({ imageSize: 24, mean: [0.1, 0.2, 0.3], std: [1, 2, 3] }), { device: 'cpu', threads: 1 });
  assert.equal(b.info.height, 24);
  assert.deepEqual(b.info.mean, [0.1, 0.2, 0.3]);
  assert.deepEqual(b.info.std, [1, 2, 3]);
  assert.equal(b.info.dinotrainVersion, '0.1.0');
  assert.equal(b.info.embedDim, 12);
  assert.deepEqual(b.providers, ['cpu']);
  await b.release();
  const o = await openBackbone(tinyBackbone(), { overrides: { imageSize: 40, mean: [0, 0, 0], std: [1, 1, 1] } });
  assert.equal(o.info.width, 40);
  assert.deepEqual(o.info.std, [1, 1, 1]);
  await o.release();
});

test('not a dinotrain backbone: wrong input/output names, no metadata without --image-size, bad overrides', async () => {
  await assert.rejects(openBackbone(tinyBackbone({ inputName: 'pixel_values' })), userError(/not a dinotrain backbone.*'images' input/));
  await assert.rejects(openBackbone(tinyBackbone({ outputName: 'logits' })), userError(/not a dinotrain backbone.*'embedding' output/));
  await assert.rejects(openBackbone(tinyBackbone({ metadata: false })), userError(/not a dinotrain backbone.*--image-size/));
  // foreign model + overrides works; mean/std default to ImageNet with a note
  const f = await openBackbone(tinyBackbone({ metadata: false }), { overrides: { imageSize: 32 } });
  assert.deepEqual(f.info.mean, [0.485, 0.456, 0.406]);
  assert.equal(f.info.notes.length, 2);
  await f.release();
  // a foreign model whose input fixes H and W needs no --image-size, but a different one is refused
  const fixed = await openBackbone(tinyBackbone({ metadata: false, spatial: 28 }));
  assert.equal(fixed.info.height, 28);
  await fixed.release();
  await assert.rejects(openBackbone(tinyBackbone({ metadata: false, spatial: 28 }), { overrides: { imageSize: 32 } }), userError(/fixed at 28x28/));
  await assert.rejects(openBackbone(tinyBackbone(), { overrides: { mean: [1, 2] } }), userError(/3 finite numbers/));
  await assert.rejects(openBackbone(tinyBackbone(), { threads: 0 }), userError(/--threads/));
  await assert.rejects(openBackbone(tinyBackbone(), { device: 'cuda' }), userError(/--device cuda/));
});

test('a model with a fixed batch size is run in padded chunks and agrees with the dynamic one', async () => {
  const dynamic = await embedFolder(tinyBackbone(), images, { batchSize: 4 });
  const fixed = await embedFolder(tinyBackbone({ batch: 2 }), images, { batchSize: 5 });
  assert.deepEqual(fixed.files, dynamic.files);
  assert.equal(fixed.data.length, 9 * 12);
  for (let i = 0; i < fixed.data.length; i++) assert.ok(Math.abs(fixed.data[i] - dynamic.data[i]) < 1e-5);
});

test('embed CLI writes the requested file; errors are UserErrors', async () => {
  const model = join(dir, 'backbone.onnx');
  await writeFile(model, tinyBackbone());
  const out = join(dir, 'emb.jsonl');
  await embedCommand().parseAsync(['--model', model, '--data', images, '--out', out, '--batch-size', '4', '--threads', '1', '--quiet'], { from: 'user' });
  const rows = (await readFile(out, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { file: string; embedding: number[] });
  assert.equal(rows.length, 9);
  assert.ok(rows.every((r) => r.embedding.length === 12 && !r.file.startsWith('/')));
  await assert.rejects(
    embedCommand().parseAsync(['--model', model, '--data', images, '--out', join(dir, 'emb.txt'), '--quiet'], { from: 'user' }),
    userError(/\.csv, \.jsonl or \.npy/),
  );
  await assert.rejects(
    embedCommand().parseAsync(['--model', join(dir, 'missing.onnx'), '--data', images, '--out', out, '--quiet'], { from: 'user' }),
    userError(/model file not found/),
  );
  const notBackbone = join(dir, 'classifier.onnx');
  await writeFile(notBackbone, tinyBackbone({ outputName: 'logits' }));
  await assert.rejects(
    embedCommand().parseAsync(['--model', notBackbone, '--data', images, '--out', out, '--quiet'], { from: 'user' }),
    userError(/not a dinotrain backbone/),
  );
});
