// safetensors (huggingface/safetensors format): u64 little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the tensors' bytes,
// contiguous, offsets relative to the end of the header. The header is padded with spaces to a multiple of 8 bytes.
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { UserError } from '../util/errors.js';
import { numel } from '../util/shape.js';
import { writeFileAtomic } from '../util/write-file.js';

export type Dtype = 'BOOL' | 'U8' | 'I8' | 'F8_E4M3' | 'F8_E5M2' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'I64' | 'U64' | 'F64';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number };

/** The JS array that holds each dtype (16-bit floats and 8-bit floats stay raw bits). */
const DTYPES: Record<Dtype, TypedArrayCtor> = {
  BOOL: Uint8Array,
  U8: Uint8Array,
  I8: Int8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
  I16: Int16Array,
  U16: Uint16Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  F32: Float32Array,
  I64: BigInt64Array,
  U64: BigUint64Array,
  F64: Float64Array,
};

/** A tensor to write; dtype defaults from the array type (Float32Array -> F32, ...; BOOL/F16/BF16 must be given). */
export interface TensorInput {
  dtype?: Dtype;
  shape: readonly number[];
  data: TypedArray;
}

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  /** A view into the file's bytes when aligned (no copy), else a copy. */
  data: TypedArray;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor>;
}

if (endianness() !== 'LE') throw new Error('dinotrain reads and writes safetensors on little-endian machines only');

const MAX_HEADER = 100_000_000;

function inferDtype(data: TypedArray): Dtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return 'U8';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof BigInt64Array) return 'I64';
  return 'U64';
}

interface Planned {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  bytes: Uint8Array;
}

/** Tensors in file order: larger element size first (so every tensor is aligned to its element size), then by name. */
function plan(tensors: Iterable<[string, TensorInput]>): Planned[] {
  const out: Planned[] = [];
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error(`'__metadata__' cannot be a tensor name`);
    const dtype = t.dtype ?? inferDtype(t.data);
    const ctor = DTYPES[dtype];
    if (!ctor) throw new Error(`tensor '${name}': unknown dtype ${dtype}`);
    if (!(t.data instanceof (ctor as unknown as typeof Uint8Array))) {
      throw new Error(`tensor '${name}': dtype ${dtype} needs a ${ctor.name}, got a ${t.data.constructor.name}`);
    }
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0) || numel(t.shape) !== t.data.length) {
      throw new Error(`tensor '${name}': shape [${t.shape}] does not match ${t.data.length} values`);
    }
    out.push({ name, dtype, shape: t.shape, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  }
  const size = (p: Planned) => DTYPES[p.dtype].BYTES_PER_ELEMENT;
  return out.sort((a, b) => size(b) - size(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The header bytes (length prefix included): compact JSON, __metadata__ first, tensors in file order. */
function header(planned: Planned[], metadata?: Record<string, string>): Buffer {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`metadata '${k}' must be a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const p of planned) {
    const end = offset + p.bytes.byteLength;
    // Built by hand: a JS object would move integer-like names ('0', '1') in front of the others.
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  let json = `{${parts.join(',')}}`;
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const buf = Buffer.alloc(8 + Buffer.byteLength(json, 'utf8'));
  buf.writeBigUInt64LE(BigInt(buf.length - 8), 0);
  buf.write(json, 8, 'utf8');
  return buf;
}

type TensorEntries = ReadonlyMap<string, TensorInput> | Record<string, TensorInput>;

function entriesOf(tensors: TensorEntries): Iterable<[string, TensorInput]> {
  return tensors instanceof Map ? tensors.entries() : Object.entries(tensors);
}

/** The whole file in memory (copies every tensor; use writeSafetensors for large files). */
export function serializeSafetensors(tensors: TensorEntries, metadata?: Record<string, string>): Buffer {
  return Buffer.concat(safetensorsChunks(tensors, metadata));
}

/** The file's bytes as chunks over the tensors' own memory (no staging copy): header, then each tensor. */
export function safetensorsChunks(tensors: TensorEntries, metadata?: Record<string, string>): Uint8Array[] {
  const planned = plan(entriesOf(tensors));
  return [header(planned, metadata), ...planned.map((p) => p.bytes)];
}

/**
 * Writes a safetensors file straight from the tensors' memory, atomically (writeFileAtomic). The arrays must not
 * change until the promise resolves. With fsync, the data is on disk when it resolves.
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorEntries,
  metadata?: Record<string, string>,
  options: { fsync?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, safetensorsChunks(tensors, metadata), { durable: options.fsync });
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Parses a safetensors file held in memory. Tensors are views into `bytes` wherever the alignment allows. Throws a
 * UserError naming the problem (and `source`) for anything malformed: short file, bad header length or JSON, unknown
 * dtype, offsets outside the data, sizes that do not match shape x dtype, overlapping or gapped tensors.
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const bad = (problem: string) => new UserError(`${source} is not a valid safetensors file: ${problem}`);
  if (bytes.byteLength < 8) throw bad(`only ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.byteLength - 8)) throw bad(`header length ${n} exceeds the file size ${bytes.byteLength}`);
  if (n > BigInt(MAX_HEADER)) throw bad(`header length ${n} is larger than ${MAX_HEADER} bytes`);
  const headerLen = Number(n);
  let parsed: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    parsed = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('header is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw bad(`__metadata__ value '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof info !== 'object' || info === null) throw bad(`tensor '${name}' has no description object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype)) throw bad(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) throw bad(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[1] < offsets[0]) {
      throw bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) throw bad(`tensor '${name}' data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes)`);
    const expected = numel(shape) * DTYPES[dtype as Dtype].BYTES_PER_ELEMENT;
    if (end - begin !== expected) {
      throw bad(`tensor '${name}' has ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${expected}`);
    }
    entries.push({ name, dtype: dtype as Dtype, shape, begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) throw bad(`tensor '${e.name}' overlaps the previous tensor (starts at ${e.begin}, previous ends at ${cursor})`);
    if (e.begin > cursor) throw bad(`gap of ${e.begin - cursor} bytes before tensor '${e.name}'`);
    cursor = e.end;
  }
  if (cursor !== dataLen) throw bad(`${dataLen - cursor} bytes after the last tensor are not described by the header`);

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const ctor = DTYPES[e.dtype];
    const count = (e.end - e.begin) / ctor.BYTES_PER_ELEMENT;
    const at = bytes.byteOffset + dataStart + e.begin;
    const data =
      at % ctor.BYTES_PER_ELEMENT === 0
        ? new ctor(bytes.buffer, at, count)
        : new ctor(bytes.buffer.slice(at, at + (e.end - e.begin)), 0, count);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { metadata, tensors };
}

/** Reads and parses a safetensors file; a missing or unreadable file is a UserError naming the path. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}
