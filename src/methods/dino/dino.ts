// DINO (Caron et al. 2021): a student ViT/ResNet with a DINO head learns to match an EMA teacher's centred,
// sharpened prototype distribution across multi-crop views. The teacher sees the global crops only.
import * as ort from 'onnxruntime-node';
import { resolvePrototypes } from '../config/methods.js';
import { emaUpdate } from '../engine/ema.js';
import { createSession, floatTensor, scalarOf, scalarTensor, type Feeds } from '../engine/session.js';
import type { FlatTensors } from '../engine/param-store.js';
import { Graph, toBytes, type Tensor } from '../graph/index.js';
import { graphParams } from '../models/graph-params.js';
import { dinoHeadForward } from '../models/heads.js';
import { dinoHeadConfig, dinoHeadSpec, type DinoHeadConfig } from '../models/heads-spec.js';
import type { BnStat } from '../models/layers/batch-norm.js';
import { getModel, type BackboneModel } from '../models/registry.js';
import { modelOverrides } from '../models/overrides.js';
import { MASK_TOKEN } from '../models/vit-spec.js';
import { Rng } from '../util/rng.js';
import { autoFreezeSteps } from '../train/schedules.js';
import type { Batch } from '../data/loader.js';
import { dinoLoss, dinoTeacherTargets } from './losses/dino.js';
import { backboneWeights, bnFetches, bnOutputs, gradientFetches, loadBackboneInto, networkFeeds, readBnStats } from './graph-io.js';
import type { BackboneWeights, MethodContext, SerializedTensor, StepResult, StepScalars, TrainingMethod } from './method.js';
import { Network, trainingArena } from './network.js';
import { dropPathMasks, stackViews } from './views.js';

type DinoArgs = {
  hidden_dim: number;
  bottleneck_dim: number;
  output_dim: number | 'auto';
  student_temp: number;
  center_momentum: number;
  freeze_last_layer_steps: number | 'auto';
};

export class Dino implements TrainingMethod {
  readonly name = 'dino';
  readonly defaultExportPart = 'teacher' as const;
  readonly student: Network;
  readonly teacher: Network;
  readonly grads: FlatTensors;
  readonly center: Float32Array;
  readonly head: DinoHeadConfig;
  private trainSession!: ort.InferenceSession;
  private teacherSession!: ort.InferenceSession;
  private studentFeeds!: Feeds;
  private teacherFeeds!: Feeds;
  private gradFetches!: Feeds;
  private studentBn: { global: BnStat[]; local: BnStat[] } = { global: [], local: [] };
  private teacherBn: BnStat[] = [];
  private lastTeacherStats: { name: string; mean: Float32Array; var: Float32Array }[] = [];
  private lastStudentStats: { name: string; mean: Float32Array; var: Float32Array }[] = [];
  private lastBatchCenter: Float32Array | null = null;
  private globalBuf?: Float32Array;
  private localBuf?: Float32Array;
  private readonly nGlobal: number;
  private readonly nLocal: number;
  private readonly args: DinoArgs;

  constructor(
    private readonly ctx: MethodContext,
    readonly model: BackboneModel = getModel(ctx.cfg.model, modelOverrides(ctx.cfg.model_args)),
  ) {
    const { cfg } = ctx;
    this.args = cfg.method_args as DinoArgs;
    const K = resolvePrototypes(this.args.output_dim, ctx.datasetSize);
    this.head = dinoHeadConfig(model.embedDim, K, { hiddenDim: this.args.hidden_dim, bottleneckDim: this.args.bottleneck_dim });
    const specs = [...model.spec().filter((p) => p.name !== MASK_TOKEN), ...dinoHeadSpec(this.head)];
    this.student = Network.init(specs, new Rng(cfg.seed).fork(0x5eed), undefined, trainingArena(specs));
    this.teacher = this.student.clone();
    this.grads = this.student.params.createGradients();
    this.center = new Float32Array(K);
    this.nGlobal = cfg.transforms.global.count;
    this.nLocal = cfg.transforms.local.count;
    if (this.nGlobal < 1 || this.nGlobal + this.nLocal < 2) {
      throw new Error('DINO needs at least one global crop and two crops in all');
    }
  }

  get params() {
    return this.student.params;
  }

  async init(): Promise<void> {
    const { cfg, session } = this.ctx;
    const Sg = cfg.transforms.global.size;
    const Sl = cfg.transforms.local.size;
    const rate = cfg.drop_path_rate;
    const slots = rate > 0 ? this.model.dropPathSlots : 0;

    // student: forward over global and local crops, loss, gradients
    const g = new Graph({ name: 'dino_student' });
    const P = graphParams(g, this.student.specs);
    // views enter view-major as [views, N, ...] so every crop count shares the one batch symbol N
    const G = this.nGlobal, L = this.nLocal, K = this.head.outDim;
    const gv = g.reshape(g.input('global_views', [G, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const tp = g.reshape(g.input('teacher_probs', [G, 'N', K]), [-1, K]);
    const dpG = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path_global.${i}`, [G, 'N']), [-1]));
    const og = this.model.forward(g, P, gv, { dropPath: slots ? dpG : undefined });
    const sGlobal = dinoHeadForward(g, P, og.cls, this.head);
    let sLocal: Tensor | null = null;
    let olStats: BnStat[] = [];
    if (this.nLocal > 0) {
      const lv = g.reshape(g.input('local_views', [L, 'N', 3, Sl, Sl]), [-1, 3, Sl, Sl]);
      const dpL = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path_local.${i}`, [L, 'N']), [-1]));
      const ol = this.model.forward(g, P, lv, { dropPath: slots ? dpL : undefined });
      sLocal = dinoHeadForward(g, P, ol.cls, this.head);
      olStats = ol.bnStats;
    }
    const parts = dinoLoss(g, sGlobal, sLocal, tp, this.nGlobal, this.nLocal, this.args.student_temp);
    const trainable = g.params.filter((p) => this.student.params.layout.has(p.name));
    const grads = g.grad(parts.loss, trainable.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss: parts.loss, dino_global: parts.global };
    if (parts.local) outputs.dino_local = parts.local;
    trainable.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    Object.assign(outputs, bnOutputs(og.bnStats, '_g'), bnOutputs(olStats, '_l'));
    this.studentBn = { global: og.bnStats, local: olStats };
    this.trainSession = await createSession(toBytes(g, outputs).bytes, session);

    // teacher: forward over the global crops only, centred and sharpened targets
    const t = new Graph({ name: 'dino_teacher' });
    const TP = graphParams(t, this.teacher.specs);
    const tv = t.reshape(t.input('global_views', [this.nGlobal, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const center = t.input('center', [1, this.head.outDim]);
    const temp = t.input('teacher_temp', []);
    const ot = this.model.forward(t, TP, tv, {});
    const targets = dinoTeacherTargets(t, dinoHeadForward(t, TP, ot.cls, this.head), center, temp);
    const probs = t.reshape(targets.probs, [this.nGlobal, 'N', this.head.outDim]);
    this.teacherBn = ot.bnStats;
    this.teacherSession = await createSession(
      toBytes(t, { probs, batch_center: targets.batchCenter, ...bnOutputs(ot.bnStats, '') }).bytes,
      session,
    );

    // feeds and fetches: views over the flat buffers, so each step passes the current values without copying
    this.studentFeeds = networkFeeds(this.trainSession.inputNames, this.student);
    this.teacherFeeds = networkFeeds(this.teacherSession.inputNames, this.teacher);
    this.gradFetches = gradientFetches(this.grads, trainable);
    this.teacherFeeds.center = floatTensor(this.center, [1, this.head.outDim]);
  }

  frozenAt(step: number): readonly string[] {
    const f = this.args.freeze_last_layer_steps;
    const steps = f === 'auto' ? autoFreezeSteps(this.ctx.datasetSize, this.ctx.cfg.batch_size, this.ctx.totalSteps) : f;
    return step < steps ? ['dino_head.last_layer.weight_v'] : [];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const { cfg } = this.ctx;
    const B = batch.size * this.nGlobal;
    const Sg = cfg.transforms.global.size, Sl = cfg.transforms.local.size;
    this.globalBuf = stackViews(batch, 0, this.nGlobal, this.globalBuf);
    const globals = floatTensor(this.globalBuf, [this.nGlobal, batch.size, 3, Sg, Sg]);

    const tOut = await this.teacherSession.run({ ...this.teacherFeeds, global_views: globals, teacher_temp: scalarTensor(s.teacherTemp) });
    this.lastBatchCenter = tOut.batch_center.data as Float32Array;
    this.lastTeacherStats = readBnStats(tOut, this.teacherBn, '');

    const feeds: Feeds = { ...this.studentFeeds, global_views: globals, teacher_probs: tOut.probs as ort.Tensor };
    const rng = new Rng(cfg.seed).fork(0xd20 + s.step);
    const rate = cfg.drop_path_rate;
    dropPathMasks(this.model, rate, B, rng).forEach((m, i) => (feeds[`drop_path_global.${i}`] = floatTensor(m, [this.nGlobal, batch.size])));
    if (this.nLocal > 0) {
      const BL = batch.size * this.nLocal;
      this.localBuf = stackViews(batch, this.nGlobal, this.nLocal, this.localBuf);
      feeds.local_views = floatTensor(this.localBuf, [this.nLocal, batch.size, 3, Sl, Sl]);
      dropPathMasks(this.model, rate, BL, rng).forEach((m, i) => (feeds[`drop_path_local.${i}`] = floatTensor(m, [this.nLocal, batch.size])));
    }
    const out = await this.trainSession.run(feeds, { ...this.gradFetches, loss: null, dino_global: null, ...(this.nLocal ? { dino_local: null } : {}), ...bnFetches(this.studentBn.global, '_g'), ...bnFetches(this.studentBn.local, '_l') } as never);
    this.lastStudentStats = [...readBnStats(out, this.studentBn.global, '_g'), ...readBnStats(out, this.studentBn.local, '_l')];
    const parts: Record<string, number> = { dino_global: scalarOf(out.dino_global) };
    if (this.nLocal) parts.dino_local = scalarOf(out.dino_local);
    return { loss: scalarOf(out.loss), parts };
  }

  afterStep(s: StepScalars): void {
    emaUpdate(this.teacher.params.flat, this.student.params.flat, s.momentum);
    const m = this.args.center_momentum;
    const bc = this.lastBatchCenter;
    if (bc) for (let k = 0; k < this.center.length; k++) this.center[k] = this.center[k] * m + bc[k] * (1 - m);
    this.student.updateBatchNorm(this.lastStudentStats);
    this.teacher.updateBatchNorm(this.lastTeacherStats);
  }

  stateTensors(): Map<string, SerializedTensor> {
    return new Map([
      ...this.student.tensors('student.'),
      ...this.teacher.tensors('teacher.'),
      ['dino.center', { shape: [1, this.center.length], data: this.center }],
    ]);
  }

  loadStateTensors(tensors: ReadonlyMap<string, SerializedTensor>): void {
    this.student.load(tensors, 'student.', 'checkpoint');
    this.teacher.load(tensors, 'teacher.', 'checkpoint');
    const c = tensors.get('dino.center');
    if (!c || c.data.length !== this.center.length) throw new Error('checkpoint: dino.center is missing or has the wrong size');
    this.center.set(c.data);
  }

  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void {
    loadBackboneInto([this.student, this.teacher], tensors);
  }

  backbone(part: 'student' | 'teacher'): BackboneWeights {
    return backboneWeights(this.model, part === 'teacher' ? this.teacher : this.student);
  }

  async release(): Promise<void> {
    await this.trainSession?.release();
    await this.teacherSession?.release();
  }
}



