// The frozen teacher while a run trains: an ONNX Runtime session over the teacher model (an ONNX file as given, or a
// safetensors state dict built into dinotrain's own backbone graph), fed the student's views after an adapter that
// turns them into the teacher's input (its normalisation, its size by the antialiased resize of the data
// pipeline). It returns L2-normalised global embeddings and patch features laid out [N, M, D] on its patch grid.
// No gradient flows into it and nothing of it is trained or checkpointed.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { createSession, floatTensor, type SessionOptions } from '../../engine/session.js';
import { backboneOnnx } from '../../export/onnx.js';
import { parseSafetensors } from '../../formats/safetensors.js';
import { toFloat32 } from '../../formats/tensor-values.js';
import { Graph, toBytes } from '../../graph/index.js';
import { modelOverrides } from '../../models/overrides.js';
import { getModel } from '../../models/registry.js';
import type { VitConfig } from '../../models/vit-config.js';
import { fitVitTensors, type FileTensor } from '../../models/vit-import.js';
import { UserError } from '../../util/errors.js';
import { antialiasMatrix, resizeLastTwo } from './interpolation.js';
import type { Rgb, TeacherSpec } from './teacher-spec.js';

export interface TeacherFeatures {
  /** [N, Dg], rows L2-normalised */
  global?: Float32Array;
  /** [N, rows·cols, Dd], rows L2-normalised */
  dense?: Float32Array;
}

export interface PatchGrid {
  rows: number;
  cols: number;
}

/** Normalises each `dim`-wide row of `x` in place (rows of zeros stay zero). */
export function normalizeRows(x: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < x.length; o += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += x[o + k] * x[o + k];
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let k = 0; k < dim; k++) x[o + k] *= inv;
  }
  return x;
}

async function teacherBytes(spec: TeacherSpec): Promise<Uint8Array> {
  const where = `--teacher ${spec.file.path}`;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(spec.file.path);
  } catch (e) {
    throw new UserError(`${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!spec.model) return bytes;
  const file = parseSafetensors(bytes, where);
  const read = new Map<string, FileTensor>([...file.tensors].map(([k, t]) => [k, { shape: t.shape, values: toFloat32(t), dtype: t.dtype }]));
  // LayerScale and register tokens as the file has them (timm's DINOv2 checkpoints carry both kinds)
  const o = modelOverrides(spec.modelArgs);
  if (read.has('blocks.0.ls1.gamma')) o.vit = { ...o.vit, layerScale: 1 };
  const reg = read.get('reg_token');
  if (reg) o.vit = { ...o.vit, numRegisters: reg.shape[1] };
  const model = getModel(spec.model, o);
  const fitted = model.kind === 'vit' ? fitVitTensors(model.config as VitConfig, read, where) : { tensors: read, notes: [] };
  // imported here: the export module reads the method list, which holds this method
  const { pickBackboneTensors } = await import('../../export/checkpoint-backbone.js');
  const tensors = pickBackboneTensors(model, (k) => fitted.tensors.get(k), where);
  return backboneOnnx(model, tensors, { imageSize: spec.size[0], method: 'teacher', mean: spec.mean, std: spec.std });
}

/**
 * The adapter from views (normalised with `viewNorm`, `viewSize` px) to the teacher's input, or null when the views
 * already are its input.
 */
async function adapterSession(spec: TeacherSpec, viewSize: number, viewNorm: { mean: Rgb; std: Rgb }, opts: SessionOptions) {
  const [H, W] = spec.size;
  const sameNorm = spec.mean.every((m, c) => Math.abs(m - viewNorm.mean[c]) < 1e-9 && Math.abs(spec.std[c] - viewNorm.std[c]) < 1e-9);
  if (sameNorm && H === viewSize && W === viewSize) return null;
  const g = new Graph({ name: 'teacher_input' });
  let x = g.input('views', ['N', 3, viewSize, viewSize]);
  if (!sameNorm) {
    // back to pixels with the views' statistics, then the teacher's: x·a + b per channel
    const a = Float32Array.from(spec.std, (s, c) => viewNorm.std[c] / s);
    const b = Float32Array.from(spec.std, (s, c) => (viewNorm.mean[c] - spec.mean[c]) / s);
    x = g.add(g.mul(x, g.const(a, [1, 3, 1, 1])), g.const(b, [1, 3, 1, 1]));
  }
  x = resizeLastTwo(g, x, { m: antialiasMatrix(viewSize, H), from: viewSize, to: H }, { m: antialiasMatrix(viewSize, W), from: viewSize, to: W });
  return createSession(toBytes(g, { input: x }).bytes, opts);
}

export class Teacher {
  /** the dense features' patch grid (after open) */
  grid: PatchGrid = { rows: 0, cols: 0 };
  /** dense tokens before the patches (class token, registers) that are dropped */
  private prefix = 0;

  private constructor(
    readonly spec: TeacherSpec,
    private readonly session: ort.InferenceSession,
    private readonly adapter: ort.InferenceSession | null,
  ) {}

  static async open(spec: TeacherSpec, viewSize: number, viewNorm: { mean: Rgb; std: Rgb }, opts: SessionOptions): Promise<Teacher> {
    const bytes = await teacherBytes(spec);
    let session: ort.InferenceSession;
    try {
      session = await createSession(bytes, opts);
    } catch (e) {
      throw new UserError(`--teacher ${spec.file.path}: ONNX Runtime cannot load it: ${(e as Error).message.split('\n')[0]}`);
    }
    const t = new Teacher(spec, session, await adapterSession(spec, viewSize, viewNorm, opts));
    if (spec.dense) await t.probeGrid();
    return t;
  }

  /** Runs the teacher once on a blank batch to learn its patch grid from the dense output's shape. */
  private async probeGrid(): Promise<void> {
    const n = this.spec.fixedBatch ?? 1;
    const [H, W] = this.spec.size;
    const out = await this.runModel(new Float32Array(n * 3 * H * W), n, [this.spec.dense!.name]);
    const dims = out[this.spec.dense!.name].dims;
    const where = `--teacher ${this.spec.file.path}: output '${this.spec.dense!.name}' [${dims.join(', ')}]`;
    if (this.spec.dense!.layout === 'map') {
      this.grid = { rows: dims[2], cols: dims[3] };
      return;
    }
    const T = dims[1];
    const p = this.spec.patchSize;
    let grid: PatchGrid | undefined;
    if (p && H % p === 0 && W % p === 0) grid = { rows: H / p, cols: W / p };
    else {
      const side = [0, 1, 2, 3, 4, 5].map((k) => Math.round(Math.sqrt(T - k))).find((s, k) => s > 0 && s * s === T - k);
      if (side) grid = { rows: side, cols: side };
    }
    if (!grid || grid.rows * grid.cols > T) {
      throw new UserError(`${where}: cannot tell its patch grid (no patch_size metadata and no square token count)`);
    }
    this.grid = grid;
    this.prefix = T - grid.rows * grid.cols;
  }

  private async runModel(input: Float32Array, n: number, names: string[]) {
    const [H, W] = this.spec.size;
    return this.session.run({ [this.spec.input]: floatTensor(input, [n, 3, H, W]) }, names);
  }

  /** The teacher's features of `n` views [n, 3, S, S] (normalised as the student's views). */
  async features(views: Float32Array, n: number, viewSize: number): Promise<TeacherFeatures> {
    const input = this.adapter
      ? ((await this.adapter.run({ views: floatTensor(views, [n, 3, viewSize, viewSize]) })).input.data as Float32Array)
      : views;
    const names = [this.spec.global?.name, this.spec.dense?.name].filter((x): x is string => x !== undefined);
    const fb = this.spec.fixedBatch;
    if (fb === undefined || fb === n) return this.read(await this.runModel(input, n, names), n);
    // a model with a fixed batch size: runs of exactly that size, the last one zero-padded
    const per = input.length / n;
    const parts: TeacherFeatures[] = [];
    for (let start = 0; start < n; start += fb) {
      const chunk = new Float32Array(fb * per);
      chunk.set(input.subarray(start * per, Math.min(n, start + fb) * per));
      parts.push(this.read(await this.runModel(chunk, fb, names), fb));
    }
    const join = (key: 'global' | 'dense') => {
      if (!parts[0][key]) return undefined;
      const row = parts[0][key]!.length / fb;
      const out = new Float32Array(n * row);
      parts.forEach((p, i) => out.set(p[key]!.subarray(0, Math.min(fb, n - i * fb) * row), i * fb * row));
      return out;
    };
    return { global: join('global'), dense: join('dense') };
  }

  private read(out: ort.InferenceSession.OnnxValueMapType, n: number): TeacherFeatures {
    const f: TeacherFeatures = {};
    if (this.spec.global) {
      const t = out[this.spec.global.name];
      if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== this.spec.global.dim) {
        throw new UserError(`--teacher ${this.spec.file.path}: output '${this.spec.global.name}' is [${t.dims.join(', ')}], expected [${n}, ${this.spec.global.dim}]`);
      }
      f.global = normalizeRows(Float32Array.from(t.data as Float32Array), this.spec.global.dim);
    }
    if (this.spec.dense) {
      const t = out[this.spec.dense.name];
      const D = this.spec.dense.dim;
      const M = this.grid.rows * this.grid.cols;
      const src = t.data as Float32Array;
      const dense = new Float32Array(n * M * D);
      if (this.spec.dense.layout === 'map') {
        // [n, D, h, w] -> [n, h·w, D]
        for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) for (let m = 0; m < M; m++) dense[(i * M + m) * D + d] = src[(i * D + d) * M + m];
      } else {
        const T = t.dims[1];
        for (let i = 0; i < n; i++) dense.set(src.subarray((i * T + this.prefix) * D, (i * T + T) * D), i * M * D);
      }
      f.dense = normalizeRows(dense, D);
    }
    return f;
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.adapter?.release();
  }
}
