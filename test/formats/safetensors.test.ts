// safetensors reader/writer: a byte-for-byte fixture built from the format description by
// test/fixtures/optim/make_optim.py (no Python safetensors package is available here), round trips, and bad files.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type Dtype,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  type TensorInput,
  type TypedArray,
  writeSafetensors,
} from '../../src/formats/safetensors.js';
import { UserError } from '../../src/util/errors.js';

const fixtureBytes = readFileSync(new URL('../fixtures/optim/handmade.safetensors', import.meta.url));
const fixture = JSON.parse(readFileSync(new URL('../fixtures/optim/handmade.json', import.meta.url), 'utf8')) as {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: Dtype; shape: number[]; values: (number | string)[] }>;
};
const dir = mkdtempSync(join(tmpdir(), 'dinotrain-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function arrayFor(dtype: Dtype, values: (number | string)[]): TypedArray {
  switch (dtype) {
    case 'F32':
      return Float32Array.from(values as number[]);
    case 'F64':
      return Float64Array.from(values as number[]);
    case 'I64':
      return BigInt64Array.from(values.map((v) => BigInt(v)));
    case 'I32':
      return Int32Array.from(values as number[]);
    default:
      return Uint8Array.from(values as number[]);
  }
}

const fixtureTensors = new Map<string, TensorInput>(
  Object.entries(fixture.tensors).map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, data: arrayFor(t.dtype, t.values) }]),
);

test('reads a hand-built file: metadata, dtypes, shapes and values', () => {
  const file = parseSafetensors(fixtureBytes, 'handmade.safetensors');
  assert.deepEqual(file.metadata, fixture.metadata);
  assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(fixture.tensors).sort());
  for (const [name, want] of fixtureTensors) {
    const got = file.tensors.get(name)!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    assert.deepEqual([...got.data], [...want.data], name);
  }
});

test('writes the same bytes as the hand-built file (header layout, padding, order, offsets)', async () => {
  const bytes = serializeSafetensors(fixtureTensors, fixture.metadata);
  assert.ok(bytes.equals(fixtureBytes), 'serialized bytes differ from the fixture');
  const path = join(dir, 'same.safetensors');
  await writeSafetensors(path, fixtureTensors, fixture.metadata, { fsync: true });
  assert.ok(readFileSync(path).equals(fixtureBytes), 'file bytes differ from the fixture');
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  assert.equal(bytes.subarray(8, 8 + n).toString('utf8').trimEnd().endsWith('}'), true);
});

test('round trip of every dtype, integer-like names, views without copies', async () => {
  const tensors = new Map<string, TensorInput>([
    ['10', { shape: [2], data: new Float32Array([1.5, -2]) }],
    ['2', { shape: [1, 2], data: new Float64Array([Math.PI, -0]) }],
    ['h', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7e00]) }],
    ['bf', { dtype: 'BF16', shape: [1], data: new Uint16Array([0x3f80]) }],
    ['i8', { shape: [2], data: new Int8Array([-128, 127]) }],
    ['i16', { shape: [2], data: new Int16Array([-3, 4]) }],
    ['u32', { shape: [1], data: new Uint32Array([4294967295]) }],
    ['u64', { shape: [1], data: new BigUint64Array([2n ** 63n + 5n]) }],
    ['big', { shape: [1000, 3], data: Float32Array.from({ length: 3000 }, (_, i) => i / 7) }],
  ]);
  const path = join(dir, 'all.safetensors');
  await writeSafetensors(path, tensors, { k: 'v' });
  const file = await readSafetensors(path);
  assert.deepEqual(file.metadata, { k: 'v' });
  for (const [name, want] of tensors) {
    const got = file.tensors.get(name)!;
    assert.equal(got.dtype, want.dtype ?? got.dtype);
    assert.deepEqual(got.shape, want.shape);
    assert.equal(got.data.constructor, want.data.constructor, name);
    assert.deepEqual([...got.data], [...want.data], name);
  }
  // every tensor of the file is a view into one buffer (no copies), aligned to its element size
  const buffers = new Set([...file.tensors.values()].map((t) => t.data.buffer));
  assert.equal(buffers.size, 1);
  // an unaligned copy of the bytes still parses (copies only where needed)
  const raw = readFileSync(path);
  const shifted = new Uint8Array(raw.length + 1).subarray(1);
  shifted.set(raw);
  const again = parseSafetensors(shifted);
  assert.deepEqual([...again.tensors.get('big')!.data], [...tensors.get('big')!.data]);
  assert.equal(again.tensors.get('i8')!.data.buffer, shifted.buffer);
});

test('the writer rejects inconsistent input', () => {
  assert.throws(() => serializeSafetensors({ a: { shape: [3], data: new Float32Array(2) } }), /shape \[3\] does not match 2 values/);
  assert.throws(() => serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }), /needs a Float32Array/);
  assert.throws(() => serializeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } }), /cannot be a tensor name/);
});

/** A file with a hand-written header (padded) followed by `data` bytes. */
function fileWith(header: string, data: Uint8Array | number = 0): Uint8Array {
  const h = Buffer.from(header.padEnd(Math.ceil(Buffer.byteLength(header) / 8) * 8, ' '));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = Buffer.alloc(8 + h.length + body.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  out.set(body, 8 + h.length);
  return out;
}

test('bad files give a UserError naming the problem', async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['short', new Uint8Array(5), /too short/],
    ['huge header length', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n, 0); return b; })(), /header length 1000 exceeds the file size 16/],
    ['not json', fileWith('{"a":'), /not valid UTF-8 JSON/],
    ['bad utf8', (() => { const b = fileWith('{"a":1}'); b[9] = 0xff; return b; })(), /not valid UTF-8 JSON/],
    ['array header', fileWith('[1,2]'), /not a JSON object/],
    ['unknown dtype', fileWith('{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}', 4), /tensor 'a' has unknown dtype "F99"/],
    ['bad shape', fileWith('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4), /invalid shape/],
    ['reversed offsets', fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', 4), /invalid data_offsets/],
    ['past the end', fileWith('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 4), /run past the end of the data \(4 bytes\)/],
    ['size mismatch', fileWith('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 4), /has 4 bytes but shape \[2\] of F32 needs 8/],
    [
      'overlap',
      fileWith('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
      /tensor 'b' overlaps/,
    ],
    ['gap', fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /gap of 4 bytes before tensor 'a'/],
    ['trailing bytes', fileWith('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 12), /8 bytes after the last tensor/],
    ['metadata value', fileWith('{"__metadata__":{"x":1}}'), /__metadata__ value 'x' is not a string/],
    ['truncated fixture', fixtureBytes.subarray(0, fixtureBytes.length - 3), /run past the end of the data/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(
      () => parseSafetensors(bytes, 'bad.safetensors'),
      (e: Error) => e instanceof UserError && /^bad\.safetensors is not a valid safetensors file: /.test(e.message) && message.test(e.message),
      what,
    );
  }
  const missing = join(dir, 'missing.safetensors');
  await assert.rejects(readSafetensors(missing), (e: Error) => e instanceof UserError && e.message === `${missing} does not exist`);
  const corrupt = join(dir, 'corrupt.safetensors');
  writeFileSync(corrupt, 'not a tensor file at all');
  await assert.rejects(readSafetensors(corrupt), (e: Error) => e instanceof UserError && e.message.startsWith(corrupt));
});
