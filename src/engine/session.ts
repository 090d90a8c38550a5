// ONNX Runtime sessions for training and inference, and zero-copy tensors over the flat parameter buffers.
import * as ort from 'onnxruntime-node';
import type { FlatTensors } from './param-store.js';

export interface SessionOptions {
  /** execution providers in preference order, e.g. ['cuda', 'cpu'] */
  providers: string[];
  /** intra-op threads */
  threads: number;
}

export type Feeds = Record<string, ort.Tensor>;

export async function createSession(model: Uint8Array, opts: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: opts.providers,
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    // DINOTRAIN_ORT_PROFILE=prefix writes ORT's per-node timings (chrome trace JSON) for performance work
    ...(process.env.DINOTRAIN_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.DINOTRAIN_ORT_PROFILE } : {}),
  });
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
