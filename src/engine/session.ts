// ONNX Runtime sessions for training and inference, and zero-copy tensors over the flat parameter buffers.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { FlatTensors } from './param-store.js';

export interface SessionOptions {
  /** execution providers in preference order, e.g. ['cuda', 'cpu'] */
  providers: string[];
  /** intra-op threads */
  threads: number;
  /**
   * Let idle intra-op threads spin-wait for the next op (ORT's default) instead of sleeping. Default off: spinning
   * buys little on an idle machine but, when the cores are shared with other work, the spinning threads take CPU
   * time from the ones doing the work (measured: a ViT block's forward+backward ~1.4x slower under load, see
   * docs/benchmarks.md). DINOTRAIN_ORT_SPIN=1 turns it on.
   */
  spinning?: boolean;
}

export type Feeds = Record<string, ort.Tensor>;

/** The ORT session options dinotrain uses (exported for benchmarks and tests). */
export function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const spin = process.env.DINOTRAIN_ORT_SPIN ? process.env.DINOTRAIN_ORT_SPIN === '1' : (opts.spinning ?? false);
  const out: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.providers,
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
  };
  // performance work: DINOTRAIN_ORT_PROFILE=prefix writes ORT's per-node timings (chrome trace JSON, flushed when the
  // session is released); DINOTRAIN_ORT_OPTIONS='{"enableCpuMemArena":false}' overrides session options (JSON)
  if (process.env.DINOTRAIN_ORT_PROFILE) Object.assign(out, { enableProfiling: true, profileFilePrefix: process.env.DINOTRAIN_ORT_PROFILE });
  if (process.env.DINOTRAIN_ORT_OPTIONS) Object.assign(out, JSON.parse(process.env.DINOTRAIN_ORT_OPTIONS) as object);
  return out;
}

let savedModels = 0;

/**
 * Every ONNX Runtime session dinotrain opens (training graphs, exports, embed, eval) is made here, with the options
 * above; `overrides` are ORT options for the rare caller that needs another (e.g. no graph optimisation in a test).
 * DINOTRAIN_SAVE_MODELS=dir writes every session's model there (NN-<bytes>.onnx) for inspection, e.g. in Netron.
 */
export async function createSession(
  model: Uint8Array,
  opts: SessionOptions,
  overrides: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const dir = process.env.DINOTRAIN_SAVE_MODELS;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${String(savedModels++).padStart(2, '0')}-${model.byteLength}.onnx`), model);
  }
  return ort.InferenceSession.create(model, { ...sessionOptions(opts), ...overrides });
}

/**
 * One ort.Tensor per named tensor of a flat buffer, each a view (no copy): ORT reads parameters from, or writes
 * gradients into, the flat buffer the optimizer updates in place. Keys are `prefix + name`.
 */
export function tensorViews(store: FlatTensors, prefix = ''): Feeds {
  const out: Feeds = {};
  store.names.forEach((name, i) => {
    out[prefix + name] = new ort.Tensor('float32', store.views[i], store.shapes[i] as number[]);
  });
  return out;
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims as number[]);
}

export function scalarTensor(value: number): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.of(value), []);
}

/** The first element of a float output, as a JS number. */
export function scalarOf(t: ort.Tensor | undefined): number {
  if (!t) throw new Error('missing scalar output');
  return (t.data as Float32Array)[0];
}
