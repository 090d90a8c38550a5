// A thin wrapper for running a built graph (tests, gradcheck): a session from model bytes (made by the engine's one
// createSession), feeds as typed arrays, outputs as typed arrays.

import * as ort from 'onnxruntime-node';
import { defaultThreads } from '../engine/providers.js';
import { createSession as createOrtSession } from '../engine/session.js';

export interface GraphSessionOptions {
  /** intra-op threads (default: ORT's choice) */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** default 'all' */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** default ['cpu'] */
  executionProviders?: ort.InferenceSession.SessionOptions['executionProviders'];
  /** write ORT's optimised graph here (debugging) */
  optimizedModelFilePath?: string;
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

export type FeedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** A feed: an ort.Tensor, or data + dims (a Uint8Array is a bool tensor unless type says 'uint8'). */
export type Feed = ort.Tensor | { data: FeedArray; dims: readonly number[]; type?: 'bool' | 'uint8' };

export interface OutputTensor {
  data: FeedArray;
  dims: number[];
  type: string;
}

function toOrtTensor(name: string, f: Feed): ort.Tensor {
  if (f instanceof ort.Tensor) return f;
  const dims = [...f.dims];
  const d = f.data;
  if (d instanceof Float32Array) return new ort.Tensor('float32', d, dims);
  if (d instanceof Float64Array) return new ort.Tensor('float64', d, dims);
  if (d instanceof BigInt64Array) return new ort.Tensor('int64', d, dims);
  if (d instanceof Int32Array) return new ort.Tensor('int32', d, dims);
  if (d instanceof Uint8Array) return new ort.Tensor(f.type === 'uint8' ? 'uint8' : 'bool', d, dims);
  throw new Error(`feed ${name}: unsupported data`);
}

export class Session {
  private constructor(readonly session: ort.InferenceSession) {}

  static async create(model: Uint8Array, opts: GraphSessionOptions = {}): Promise<Session> {
    const o: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all' };
    if (opts.interOpNumThreads !== undefined) o.interOpNumThreads = opts.interOpNumThreads;
    if (opts.optimizedModelFilePath) o.optimizedModelFilePath = opts.optimizedModelFilePath;
    if (opts.logSeverityLevel !== undefined) o.logSeverityLevel = opts.logSeverityLevel;
    const providers = (opts.executionProviders ?? ['cpu']).map((p) => (typeof p === 'string' ? p : p.name));
    return new Session(await createOrtSession(model, { providers, threads: opts.intraOpNumThreads ?? defaultThreads() }, o));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the model; `outputs` defaults to all of them. */
  async run(feeds: Record<string, Feed>, outputs?: readonly string[]): Promise<Record<string, OutputTensor>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) f[k] = toOrtTensor(k, v);
    const r = outputs ? await this.session.run(f, [...outputs]) : await this.session.run(f);
    const out: Record<string, OutputTensor> = {};
    for (const [k, t] of Object.entries(r)) out[k] = { data: t.data as FeedArray, dims: [...t.dims], type: t.type };
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}


