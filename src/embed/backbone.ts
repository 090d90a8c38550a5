// An ONNX Runtime session over a backbone.onnx that turns a batch of normalised images into embeddings.
import { readFile, stat } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { defaultThreads, resolveDevice, type Device } from '../engine/providers.js';
import { createSession } from '../engine/session.js';
import { UserError } from '../util/errors.js';
import { INPUT_NAME, OUTPUT_NAME, resolveBackboneInfo, type BackboneInfo, type BackboneOverrides } from './backbone-info.js';
import { readModelMetadata } from '../formats/onnx-metadata.js';

export interface OpenBackboneOptions {
  device?: Device;
  /** Intra-op threads for ORT (default: every core). */
  threads?: number;
  overrides?: BackboneOverrides;
}

export interface Backbone {
  info: BackboneInfo;
  providers: string[];
  deviceReason: string;
  /** Embeds `count` images laid out as float32 [count,3,H,W]; returns [count, dim] row-major. */
  embed(images: Float32Array, count: number): Promise<{ data: Float32Array; dim: number }>;
  release(): Promise<void>;
}

function modelFileError(model: string, err: unknown): UserError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UserError(`model file not found: ${model}`);
  if (code === 'EISDIR') return new UserError(`--model must be an .onnx file, got a directory: ${model}`);
  return new UserError(`cannot read model ${model}: ${(err as Error).message}`);
}

/** Fails fast (before any folder is scanned) when a model path does not name a readable file. */
export async function checkModelPath(model: Uint8Array | string): Promise<void> {
  if (typeof model !== 'string') return;
  const s = await stat(model).catch((err: unknown) => {
    throw modelFileError(model, err);
  });
  if (s.isDirectory()) throw modelFileError(model, Object.assign(new Error('is a directory'), { code: 'EISDIR' }));
}

async function loadModelBytes(model: Uint8Array | string): Promise<{ bytes: Uint8Array; label: string }> {
  if (typeof model !== 'string') return { bytes: model, label: 'the model' };
  try {
    return { bytes: await readFile(model), label: model };
  } catch (err) {
    throw modelFileError(model, err);
  }
}

export async function openBackbone(model: Uint8Array | string, opts: OpenBackboneOptions = {}): Promise<Backbone> {
  const { bytes, label } = await loadModelBytes(model);
  let metadata: Record<string, string>;
  try {
    metadata = readModelMetadata(bytes);
  } catch (err) {
    throw new UserError(`not a dinotrain backbone: ${label} is not an ONNX model (${(err as Error).message})`);
  }
  const choice = resolveDevice(opts.device ?? 'auto');
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new UserError(`--threads must be a positive integer, got ${opts.threads}`);
  let session: ort.InferenceSession;
  try {
    session = await createSession(bytes, { providers: choice.providers, threads }, { logSeverityLevel: 3 });
  } catch (err) {
    throw new UserError(`not a dinotrain backbone: ONNX Runtime cannot load ${label}: ${(err as Error).message.split('\n')[0]}`);
  }
  const info = resolveBackboneInfo(label, metadata, session.inputMetadata, session.outputMetadata, opts.overrides);
  const pixels = 3 * info.height * info.width;

  const runOnce = async (images: Float32Array, count: number) => {
    const input = new ort.Tensor('float32', images.subarray(0, count * pixels), [count, 3, info.height, info.width]);
    const out = await session.run({ [INPUT_NAME]: input }, [OUTPUT_NAME]);
    const emb = out[OUTPUT_NAME];
    if (emb.type !== 'float32' || emb.dims.length !== 2 || emb.dims[0] !== count) {
      throw new UserError(`not a dinotrain backbone: ${label}: output '${OUTPUT_NAME}' is ${emb.type} [${emb.dims.join(',')}], expected float32 [${count}, D]`);
    }
    // Copy: the tensor's buffer belongs to ORT's output and callers keep rows across runs.
    return { data: new Float32Array(emb.data as Float32Array), dim: emb.dims[1] };
  };

  const embed = async (images: Float32Array, count: number) => {
    const fb = info.fixedBatch;
    if (fb === undefined || fb === count) return runOnce(images, count);
    // A foreign model with a fixed batch size: run it in chunks of exactly that size, zero-padded.
    let dim = 0;
    const parts: Float32Array[] = [];
    const chunk = new Float32Array(fb * pixels);
    for (let start = 0; start < count; start += fb) {
      const n = Math.min(fb, count - start);
      chunk.fill(0);
      chunk.set(images.subarray(start * pixels, (start + n) * pixels));
      const r = await runOnce(chunk, fb);
      dim = r.dim;
      parts.push(r.data.subarray(0, n * dim));
    }
    const data = new Float32Array(count * dim);
    parts.forEach((p, i) => data.set(p, i * fb * dim));
    return { data, dim };
  };

  return {
    info,
    providers: choice.providers,
    deviceReason: choice.reason,
    embed,
    release: () => session.release(),
  };
}
