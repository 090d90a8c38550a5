import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { crc32c, maskedCrc32c } from '../../src/loggers/crc32c.js';
import { flattenConfig } from '../../src/loggers/flatten.js';
import { ProtoWriter } from '../../src/loggers/protobuf.js';
import { TensorBoardLogger } from '../../src/loggers/tensorboard.js';
import { scalarsEvent } from '../../src/loggers/tf-event.js';
import { tfRecord } from '../../src/loggers/tfrecord.js';
import { FIXTURE_CONFIG, fixtureValues, writeFixtureRun } from '../fixtures/loggers/tb-fixture-run.js';
import {
  bitwiseCrc32c, decode, maskCrc, readEventFile, readFrames, scalarsAfterPurge,
} from '../fixtures/loggers/tfevents-decoder.js';

const fixtureDir = new URL('../fixtures/loggers/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('tb_expected.json', fixtureDir), 'utf8'));
const png = readFileSync(new URL('views.png', fixtureDir));
const tmp = mkdtempSync(join(tmpdir(), 'loggers-tb-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const eventFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.')).sort();

describe('CRC32C and framing', () => {
  test('crc32c matches the standard check value and RFC 3720 vectors', () => {
    const vectors: Array<[Uint8Array, number]> = [
      [new TextEncoder().encode('123456789'), 0xe3069283],
      [new Uint8Array(32), 0x8a9136aa],
      [new Uint8Array(32).fill(0xff), 0x62a8ab43],
      [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
      [Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
      [new Uint8Array(0), 0],
    ];
    for (const [data, crc] of vectors) {
      assert.equal(crc32c(data), crc);
      assert.equal(bitwiseCrc32c(data), crc); // the test decoder's own CRC agrees too
    }
  });

  test('table CRC equals a bitwise CRC on random data, masked as TFRecord specifies', () => {
    let seed = 7;
    const data = Uint8Array.from({ length: 4099 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (const n of [1, 3, 64, 1000, 4099]) {
      const part = data.subarray(0, n);
      assert.equal(crc32c(part), bitwiseCrc32c(part));
      assert.equal(maskedCrc32c(part), maskCrc(bitwiseCrc32c(part)));
    }
    assert.equal(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
  });

  test('a record is uint64 length, masked CRC of the length, data, masked CRC of the data', () => {
    const data = new TextEncoder().encode('hello tfrecord');
    const rec = tfRecord(data);
    assert.equal(rec.length, 12 + data.length + 4);
    assert.equal(rec.readBigUInt64LE(0), BigInt(data.length));
    assert.equal(rec.readUInt32LE(8), maskCrc(bitwiseCrc32c(rec.subarray(0, 8))));
    assert.deepEqual(rec.subarray(12, 12 + data.length), Buffer.from(data));
    assert.equal(rec.readUInt32LE(12 + data.length), maskCrc(bitwiseCrc32c(data)));
    const { frames, tornBytes } = readFrames(Buffer.concat([rec, rec.subarray(0, 5)]));
    assert.equal(frames.length, 1);
    assert.equal(tornBytes, 5);
  });
});

describe('protobuf encoding', () => {
  test('varints, keys, fixed-width and length-delimited fields', () => {
    const bytes = new ProtoWriter().varint(1, 300).varint(2, 2 ** 40).float(3, 1.5).string(4, 'hi').finish();
    assert.deepEqual(
      [...bytes],
      [0x08, 0xac, 0x02, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x1d, 0, 0, 0xc0, 0x3f, 0x22, 2, 0x68, 0x69],
    );
    assert.throws(() => new ProtoWriter().varint(1, -1), RangeError);
  });

  test('a scalar Event has the field numbers of event.proto and summary.proto', () => {
    const wall = 1700000000.5;
    const bytes = scalarsEvent(wall, 5, { loss: 0.25 });
    const d = Buffer.alloc(8);
    d.writeDoubleLE(wall);
    const value = [0x0a, 4, ...Buffer.from('loss'), 0x15, 0, 0, 0x80, 0x3e]; // tag=1, simple_value=2 (float)
    const summary = [0x0a, value.length, ...value]; // Summary.value = 1
    assert.deepEqual([...bytes], [0x09, ...d, 0x10, 5, 0x2a, summary.length, ...summary]); // wall_time=1, step=2, summary=5
    assert.deepEqual(decode('Event', bytes), {
      wallTime: wall, step: '5', summary: { value: [{ tag: 'loss', simpleValue: 0.25 }] },
    });
  });

  test('a zero scalar is still written (simple_value is a oneof member), step 0 is left out', () => {
    const ev = decode('Event', scalarsEvent(1, 0, { x: 0 }));
    assert.equal(ev.step, undefined);
    assert.deepEqual(ev.summary.value, [{ tag: 'x', simpleValue: 0 }]);
  });
});

describe('read by TensorBoard (fixture from tensorboard 2.22 Python code, see read_events.py)', () => {
  const regenerated = join(tmp, 'fixture-run');
  const files = writeFixtureRun(regenerated);

  test('the writer still produces exactly the bytes TensorBoard read', () => {
    assert.deepEqual(files.map((p) => p.split('/').pop()), expected.files.map((f: { name: string }) => f.name));
    for (const path of files) {
      const committed = readFileSync(new URL(`tb-run/${path.split('/').pop()}`, fixtureDir));
      assert.ok(readFileSync(path).equals(committed), `${path} differs from the committed fixture`);
    }
  });

  test('TensorBoard found every record with valid CRCs in canonical protobuf encoding', () => {
    for (const f of expected.files) {
      assert.ok(f.records.length > 0);
      for (const r of f.records) assert.deepEqual([r.length_crc_ok, r.data_crc_ok, r.canonical], [true, true, true]);
    }
  });

  test('the independent decoder reads the same events TensorBoard read', () => {
    files.forEach((path, i) => {
      const mine = readEventFile(path);
      const theirs = expected.files[i];
      assert.equal(mine.tornBytes, 0);
      assert.deepEqual(mine.frames.map((f) => f.data.length), theirs.records.map((r: { length: number }) => r.length));
      assert.ok(mine.frames.every((f) => f.lengthCrcOk && f.dataCrcOk));
      for (const ev of mine.events) {
        for (const v of ev.summary?.value ?? []) {
          if (v.image) v.image.encodedImageString = `sha256:${sha256(Buffer.from(v.image.encodedImageString, 'base64'))}`;
        }
      }
      // MessageToDict prints float fields as the shortest decimal of the float32: round it back
      for (const ev of theirs.events) {
        for (const v of ev.summary?.value ?? []) if (v.simpleValue !== undefined) v.simpleValue = Math.fround(v.simpleValue);
      }
      assert.deepEqual(mine.events, theirs.events);
    });
  });

  test('TensorBoard shows the resumed values from step 30 on (SessionLog START purge)', () => {
    const tags = expected.accumulated.tags;
    assert.equal(expected.accumulated.file_version, 2);
    for (const name of ['loss', 'lr', 'epoch']) {
      assert.equal(tags[name].plugin, 'scalars');
      const got = tags[name].values.map((v: { step: number; value: number }) => [v.step, v.value]);
      const want = Array.from({ length: 50 }, (_, s) => [s, Math.fround(fixtureValues(s, s >= 30)[name]!)]);
      assert.deepEqual(got, want);
    }
    const mine = scalarsAfterPurge(files.map(readEventFile)).get('loss')!;
    assert.deepEqual([...mine.entries()].sort((a, b) => a[0] - b[0]), tags.loss.values.map((v: any) => [v.step, v.value]));
  });

  test('TensorBoard reads the config as hparams, the config and notes as text, and the image', () => {
    const tags = expected.accumulated.tags;
    const hp = tags['_hparams_/session_start_info'];
    assert.equal(hp.plugin, 'hparams');
    assert.deepEqual(hp.session_start_info.hparams, flattenConfig(FIXTURE_CONFIG));
    assert.equal(tags.config.plugin, 'text');
    assert.deepEqual(JSON.parse(tags.config.values[0].value.replace(/^```json\n|\n```$/g, '')), FIXTURE_CONFIG);
    assert.equal(tags.notes.values[0].value, 'first run: *killed* at step 39');
    assert.equal(tags.views.plugin, 'images');
    assert.deepEqual(tags.views.values, [
      { step: 0, wall_time: tags.views.values[0].wall_time, value: { width: 24, height: 16, png_sha256: sha256(png) } },
    ]);
    // the decoder reads the same hparams from the plugin content
    const ev = readEventFile(files[0]!).events.find((e) => e.summary?.value?.[0]?.tag === '_hparams_/session_start_info')!;
    const content = Buffer.from(ev.summary.value[0].metadata.pluginData.content, 'base64');
    assert.deepEqual(decode('HParamsPluginData', content).sessionStartInfo.hparams, hp.session_start_info.hparams);
  });
});

describe('TensorBoardLogger driven like a trainer', () => {
  test('hparams, 50 steps, an image and text; a resume at step 30 writes a new file that wins', async () => {
    const out = join(tmp, 'live');
    const first = new TensorBoardLogger({ outDir: out });
    first.hparams({ lr: 0.1, model: { depth: 2 } });
    first.image('views', 0, png);
    first.text('note', 0, 'hello');
    for (let s = 0; s < 50; s++) first.scalars(s, { loss: 100 - s, lr: 0.1 });
    await first.close();
    await first.close(); // twice is fine
    first.scalars(50, { loss: 0 }); // after close: ignored

    const [name] = eventFiles(out);
    const pattern = new RegExp(`^events\\.out\\.tfevents\\.(\\d+)\\.${hostname().replace(/\./g, '\\.')}\\.${process.pid}\\.\\d+$`);
    assert.match(name!, pattern);
    assert.ok(Math.abs(Number(pattern.exec(name!)![1]) - Date.now() / 1000) < 60);
    const file = readEventFile(join(out, name!));
    assert.equal(file.tornBytes, 0);
    assert.ok(file.frames.every((f) => f.lengthCrcOk && f.dataCrcOk));
    assert.equal(file.events[0]!.fileVersion, 'brain.Event:2');
    assert.equal(file.events[1]!.sessionLog.status, 'START');
    assert.equal(file.events.length, 2 + 2 + 1 + 1 + 50);
    const img = file.events.find((e) => e.summary?.value[0].image)!.summary.value[0].image;
    assert.deepEqual([img.width, img.height, img.colorspace], [24, 16, 3]);
    assert.ok(Buffer.from(img.encodedImageString, 'base64').equals(png));

    const resumed = new TensorBoardLogger({ outDir: out, resumeStep: 30 });
    for (let s = 30; s < 50; s++) resumed.scalars(s, { loss: -s, lr: 0.1 });
    await resumed.close();
    const names = eventFiles(out);
    assert.equal(names.length, 2);
    assert.equal(names[1], resumed.path.split('/').pop()); // sorts after the first file even within one second
    const files = names.map((n) => readEventFile(join(out, n)));
    assert.deepEqual(files[1]!.events[1]!.sessionLog, { status: 'START' });
    assert.equal(files[1]!.events[1]!.step, '30');
    const loss = scalarsAfterPurge(files).get('loss')!;
    assert.deepEqual([...loss.keys()].sort((a, b) => a - b), Array.from({ length: 50 }, (_, s) => s));
    for (const [s, v] of loss) assert.equal(v, s < 30 ? 100 - s : -s);
  });

  test('a non-PNG image is refused', () => {
    const logger = new TensorBoardLogger({ outDir: join(tmp, 'bad') });
    assert.throws(() => logger.image('x', 0, new Uint8Array([1, 2, 3])), /not a PNG/);
    void logger.close();
  });
});
