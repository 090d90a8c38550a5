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
   * Idle intra-op threads spin-wait for the next op for at most SPIN_US before they sleep (default on). Bounded
   * spinning saves the wake-up between the many short ops of a training step: DINO ViT-T 1.12x faster on an idle
   * 2-core machine, 1.06x with an augmentation worker; on a machine whose cores other jobs keep busy it costs ~5 %
   * (ORT's unbounded spinning cost ~40 % there). docs/benchmarks.md; DINOTRAIN_ORT_SPIN=0 turns it off.
   */
  spinning?: boolean;
}

/** How long an idle intra-op thread spins before it sleeps (ORT's session.intra_op.spin_duration_us). */
export const SPIN_US = 1000;

export type Feeds = Record<string, ort.Tensor>;

/** The ORT session options dinotrain uses (exported for benchmarks and tests). */
export function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const spin = process.env.DINOTRAIN_ORT_SPIN ? process.env.DINOTRAIN_ORT_SPIN !== '0' : (opts.spinning ?? true);
  const out: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.providers,
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: spin ? { allow_spinning: '1', spin_duration_us: String(SPIN_US) } : { allow_spinning: '0' } } },
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
