// Knowledge distillation from a frozen teacher: one view of each image (mixed with another image of the batch, as
// in "Knowledge distillation: a good teacher is patient and consistent") goes through the teacher and the student;
// linear projections take the student's pooled features and its feature map (resized bilinearly to the teacher's
// patch grid) to the teacher's widths, and loss.ts compares them with the teacher's global embedding and patch
// features. The student is what is trained, checkpointed and exported; the teacher is never written anywhere.
import type * as ort from 'onnxruntime-node';
import type { Batch } from '../../data/loader.js';
import { type Network, trainingNetworks } from '../../engine/network.js';
import type { FlatTensors } from '../../engine/param-store.js';
import { createSession, floatTensor, scalarOf, type Feeds } from '../../engine/session.js';
import { Graph, toBytes, type Tensor } from '../../graph/index.js';
import { graphParams, type Params } from '../../models/graph-params.js';
import { HEAD_LR } from '../../models/heads-spec.js';
import type { BnStat } from '../../models/layers/batch-norm.js';
import { spec as specs, type ParamSpec } from '../../models/params.js';
import type { BackboneModel } from '../../models/registry.js';
import { MASK_TOKEN } from '../../models/vit-spec.js';
import type { BackboneWeights, SerializedTensor } from '../../models/weights.js';
import { Rng } from '../../util/rng.js';
import { backboneWeights, bnFetches, bnOutputs, gradientFetches, loadBackboneInto, networkFeeds, readBnStats, type BnValues } from '../graph-io.js';
import type { MethodContext, StepResult, StepScalars, TrainingMethod } from '../method.js';
import { batchPart, dropPathMasks } from '../views.js';
import type { DistillationArgs } from './index.js';
import { bilinearMatrix, resizeLastTwo } from './interpolation.js';
import { denseLoss, globalLoss } from './loss.js';
import { mixup } from './mixup.js';
import { TeacherQueue } from './queue.js';
import { Teacher } from './teacher.js';
import { teacherSpec, type TeacherSpec } from './teacher-spec.js';

export const GLOBAL_HEAD = 'projection_global';
export const DENSE_HEAD = 'projection_dense';

/** The student's projection heads: one Linear per compared feature, trunc_normal(0.02) weights, zero biases. */
export function distillationHeadSpec(inDim: number, teacher: Pick<TeacherSpec, 'global' | 'dense'>): ParamSpec[] {
  return [
    ...(teacher.global ? specs.linear(GLOBAL_HEAD, inDim, teacher.global.dim, HEAD_LR) : []),
    ...(teacher.dense ? specs.linear(DENSE_HEAD, inDim, teacher.dense.dim, HEAD_LR) : []),
  ];
}

/** What the loss compares beside the features: the teacher's widths and grid, the queue's length and the settings. */
export interface LossShape {
  teacher: Pick<TeacherSpec, 'global' | 'dense'>;
  grid: { rows: number; cols: number };
  queueSize: number;
  args: Pick<DistillationArgs, 'temperature_global' | 'temperature_dense' | 'dense_weight'>;
}

/**
 * The projections and both losses from the student's pooled features `pooled` [N, C] and feature map `map`
 * [N, C, h, w] (resized bilinearly to the teacher's grid, then projected: the same as projecting first, as both are
 * linear and the resize weights sum to 1). Graph inputs: `teacher_global` [N, Dg] and `queue` [Q, Dg];
 * `teacher_dense` [N, M, Dd].
 */
export function projectAndCompare(g: Graph, P: Params, pooled: Tensor, map: Tensor | undefined, o: LossShape) {
  const parts: Record<string, Tensor> = {};
  let loss: Tensor | undefined;
  if (o.teacher.global) {
    const Dg = o.teacher.global.dim;
    const student = g.l2Normalize(g.linear(pooled, P(`${GLOBAL_HEAD}.weight`), P(`${GLOBAL_HEAD}.bias`)), -1, 1e-12);
    const teacher = g.input('teacher_global', ['N', Dg]);
    const queue = g.input('queue', [o.queueSize, Dg]);
    loss = parts.distill_global = globalLoss(g, student, teacher, queue, o.args.temperature_global);
  }
  if (o.teacher.dense) {
    const { rows, cols } = o.grid;
    const Dd = o.teacher.dense.dim;
    const [C, h, w] = [map!.shape[1] as number, map!.shape[2] as number, map!.shape[3] as number];
    const resized = resizeLastTwo(g, map!, { m: bilinearMatrix(h, rows), from: h, to: rows }, { m: bilinearMatrix(w, cols), from: w, to: cols });
    const tokens = g.reshape(g.transpose(resized, [0, 2, 3, 1]), [-1, rows * cols, C]);
    const student = g.l2Normalize(g.linear(tokens, P(`${DENSE_HEAD}.weight`), P(`${DENSE_HEAD}.bias`)), -1, 1e-12);
    const teacher = g.input('teacher_dense', ['N', rows * cols, Dd]);
    parts.distill_dense = denseLoss(g, student, teacher, o.args.temperature_dense);
    const weighted = g.mul(parts.distill_dense, o.args.dense_weight);
    loss = loss ? g.add(loss, weighted) : weighted;
  }
  return { loss: loss!, parts };
}

/** The student backbone on `views` [N, 3, S, S]: pooled features and the feature map [N, C, h, w] (a ViT's patch tokens on their grid). */
function studentFeatures(g: Graph, model: BackboneModel, P: Params, views: Tensor, dropPath?: Tensor[]) {
  const out = model.forward(g, P, views, { dropPath, bnMode: 'train' });
  let map = out.featureMap;
  if (!map && out.patchTokens) {
    const side = (views.shape[2] as number) / model.patchSize!;
    map = g.transpose(g.reshape(out.patchTokens, [-1, side, side, model.embedDim]), [0, 3, 1, 2]);
  }
  return { pooled: out.cls, map, bnStats: out.bnStats };
}

export class Distillation implements TrainingMethod {
  readonly student: Network;
  readonly grads: FlatTensors;
  readonly args: DistillationArgs;
  readonly spec: TeacherSpec;
  readonly queue?: TeacherQueue;
  private readonly heads: ParamSpec[];
  private teacher?: Teacher;
  private session!: ort.InferenceSession;
  private feeds!: Feeds;
  private fetches!: Record<string, ort.Tensor | null>;
  private partNames: string[] = [];
  private bn: BnStat[] = [];
  private lastStats: BnValues[] = [];
  private mixed?: Float32Array;

  constructor(
    private readonly ctx: MethodContext,
    readonly model: BackboneModel,
  ) {
    const { cfg } = ctx;
    this.args = cfg.method_args as unknown as DistillationArgs;
    this.spec = teacherSpec(this.args, cfg.transforms.global.size);
    this.heads = distillationHeadSpec(model.embedDim, this.spec);
    const nets = trainingNetworks([...model.spec().filter((p) => p.name !== MASK_TOKEN), ...this.heads], new Rng(cfg.seed).fork(0x5eed));
    this.student = nets.student;
    this.grads = nets.grads;
    if (this.spec.global) this.queue = new TeacherQueue('distillation.queue', this.args.queue_size as number, this.spec.global.dim);
  }

  get params() {
    return this.student.params;
  }

  /** what the teacher was resolved to, one line each (logged when the run starts) */
  get notes(): readonly string[] {
    const t = this.spec;
    const what = [
      t.global && `global features '${t.global.name}' (${t.global.dim})`,
      t.dense && this.teacher && `patch features '${t.dense.name}' (${this.teacher.grid.rows}x${this.teacher.grid.cols} x ${t.dense.dim})`,
    ].filter(Boolean);
    return [...t.notes, `teacher ${t.file.path} (sha256 ${t.file.sha256.slice(0, 12)}): ${t.size[0]}x${t.size[1]} px input, ${what.join(' and ')}`];
  }

  async init(): Promise<void> {
    const { cfg, session } = this.ctx;
    const S = cfg.transforms.global.size;
    this.teacher = await Teacher.open(this.spec, S, cfg.transforms.normalize, session);
    const g = new Graph({ name: 'distillation' });
    const slots = cfg.drop_path_rate > 0 ? this.model.dropPathSlots : 0;
    const dropPath = Array.from({ length: slots }, (_, i) => g.input(`drop_path.${i}`, ['N']));
    const P = graphParams(g, this.student.specs);
    const f = studentFeatures(g, this.model, P, g.input('views', ['N', 3, S, S]), slots ? dropPath : undefined);
    const r = projectAndCompare(g, P, f.pooled, f.map, { teacher: this.spec, grid: this.teacher.grid, queueSize: this.queue?.size ?? 0, args: this.args });
    this.bn = f.bnStats;
    const trainable = g.params.filter((p) => this.student.params.layout.has(p.name));
    const grads = g.grad(r.loss, trainable.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss: r.loss, ...r.parts, ...bnOutputs(this.bn) };
    trainable.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    this.session = await createSession(toBytes(g, outputs).bytes, session);
    this.partNames = Object.keys(r.parts);
    this.feeds = networkFeeds(this.session.inputNames, this.student);
    const graded = this.session.outputNames.filter((n) => n.startsWith('grad:')).map((n) => ({ name: n.slice(5) }));
    this.fetches = { loss: null, ...Object.fromEntries(this.partNames.map((n) => [n, null])), ...gradientFetches(this.grads, graded), ...bnFetches(this.bn) };
  }

  frozenAt(): readonly string[] {
    return [];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const { cfg, comm } = this.ctx;
    const S = cfg.transforms.global.size;
    const N = batch.size;
    let views = batch.views[0];
    if (this.args.mixup) {
      const rng = new Rng(cfg.seed).fork(0xd157 + s.step).fork(comm.rank);
      views = this.mixed = mixup(views, N, rng, this.mixed);
    }
    const t0 = performance.now();
    const t = await this.teacher!.features(views, N, S);
    const t1 = performance.now();
    const feeds: Feeds = { ...this.feeds, views: floatTensor(views, [N, 3, S, S]) };
    if (t.global) {
      const Dg = this.spec.global!.dim;
      let all = t.global;
      if (comm.size > 1) {
        all = new Float32Array(t.global.length * comm.size);
        comm.allgather(t.global, all);
      }
      this.queue!.push(all);
      feeds.teacher_global = floatTensor(t.global, [N, Dg]);
      feeds.queue = floatTensor(this.queue!.values, [this.queue!.size, Dg]);
    }
    if (t.dense) feeds.teacher_dense = floatTensor(t.dense, [N, t.dense.length / N / this.spec.dense!.dim, this.spec.dense!.dim]);
    const rng = new Rng(cfg.seed).fork(0xc1a + s.step);
    dropPathMasks(this.model, cfg.drop_path_rate, 1, batchPart(N, comm), rng).forEach((m, i) => (feeds[`drop_path.${i}`] = floatTensor(m, [N])));
    const out = await this.session.run(feeds, this.fetches as never);
    const t2 = performance.now();
    this.lastStats = readBnStats(out, this.bn);
    const parts = Object.fromEntries(this.partNames.map((n) => [n, scalarOf(out[n])]));
    return { loss: scalarOf(out.loss), parts, times: { teacher_ms: t1 - t0, student_ms: t2 - t1 } };
  }

  /** BatchNorm running statistics of the student; the teacher never changes. */
  afterStep(_s?: StepScalars): void {
    this.student.updateBatchNorm(this.lastStats);
    this.lastStats = [];
  }

  stateTensors(): Map<string, SerializedTensor> {
    return new Map([...this.student.tensors('student.'), ...(this.queue ? [this.queue.tensor()] : [])]);
  }

  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void {
    loadBackboneInto([this.student], tensors);
  }

  backbone(): BackboneWeights {
    return backboneWeights(this.model, this.student);
  }

  async release(): Promise<void> {
    await this.session?.release();
    await this.teacher?.release();
  }
}
