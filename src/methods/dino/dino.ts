// DINO (Caron et al. 2021): a student ViT/ResNet with a DINO head learns to match an EMA teacher's centred,
// sharpened prototype distribution across multi-crop views. The teacher sees the global crops only.
import type * as ort from 'onnxruntime-node';
import type { Batch } from '../../data/loader.js';
import { floatTensor, scalarOf, scalarTensor, type Feeds } from '../../engine/session.js';
import { Graph, toBytes, type Tensor } from '../../graph/index.js';
import { graphParams } from '../../models/graph-params.js';
import { dinoHeadForward } from '../../models/heads.js';
import { dinoHeadConfig, dinoHeadSpec, type DinoHeadConfig } from '../../models/heads-spec.js';
import type { BnStat } from '../../models/layers/batch-norm.js';
import type { BackboneModel } from '../../models/registry.js';
import { MASK_TOKEN } from '../../models/vit-spec.js';
import { Rng } from '../../util/rng.js';
import { bnFetches, bnOutputs, readBnStats, type BnValues } from '../graph-io.js';
import type { MethodContext, StepResult, StepScalars } from '../method.js';
import { Center } from '../teacher/center.js';
import { TeacherStudent } from '../teacher/teacher-student.js';
import { batchPart, dropPathMasks, stackViews } from '../views.js';
import type { DinoArgs } from './index.js';
import { dinoLoss, dinoTeacherTargets } from './loss.js';

type Resolved = DinoArgs & { output_dim: number; freeze_last_layer_steps: number };

export class Dino extends TeacherStudent {
  readonly center: Center;
  readonly head: DinoHeadConfig;
  private readonly args: Resolved;
  private studentBn: { global: BnStat[]; local: BnStat[] } = { global: [], local: [] };
  private teacherBn: BnStat[] = [];
  private lastTeacherStats: BnValues[] = [];
  private lastStudentStats: BnValues[] = [];
  private lastBatchCenter: Float32Array | null = null;
  private lastRows = 0;
  private globalBuf?: Float32Array;
  private localBuf?: Float32Array;
  private readonly nGlobal: number;
  private readonly nLocal: number;

  constructor(ctx: MethodContext, model: BackboneModel) {
    const args = ctx.cfg.method_args as unknown as Resolved;
    const head = dinoHeadConfig(model.embedDim, args.output_dim, { hiddenDim: args.hidden_dim, bottleneckDim: args.bottleneck_dim });
    super(ctx, model, [...model.spec().filter((p) => p.name !== MASK_TOKEN), ...dinoHeadSpec(head)]);
    this.args = args;
    this.head = head;
    this.center = new Center('dino.center', head.outDim, args.center_momentum, ctx.comm);
    this.nGlobal = ctx.cfg.transforms.global.count;
    this.nLocal = ctx.cfg.transforms.local.count;
  }

  protected centers() {
    return [this.center];
  }

  async init(): Promise<void> {
    const { cfg } = this.ctx;
    const { student, teacher } = this;
    const Sg = cfg.transforms.global.size;
    const Sl = cfg.transforms.local.size;
    const slots = cfg.drop_path_rate > 0 ? this.model.dropPathSlots : 0;

    // student: forward over global and local crops, loss, gradients
    const g = new Graph({ name: 'dino_student' });
    const P = graphParams(g, student.specs);
    // views enter view-major as [views, N, ...] so every crop count shares the one batch symbol N
    const G = this.nGlobal, L = this.nLocal, K = this.head.outDim;
    const gv = g.reshape(g.input('global_views', [G, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const tp = g.reshape(g.input('teacher_probs', [G, 'N', K]), [-1, K]);
    const dpG = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path_global.${i}`, [G, 'N']), [-1]));
    const og = this.model.forward(g, P, gv, { dropPath: slots ? dpG : undefined });
    const sGlobal = dinoHeadForward(g, P, og.cls, this.head);
    let sLocal: Tensor | null = null;
    let olStats: BnStat[] = [];
    if (L > 0) {
      const lv = g.reshape(g.input('local_views', [L, 'N', 3, Sl, Sl]), [-1, 3, Sl, Sl]);
      const dpL = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path_local.${i}`, [L, 'N']), [-1]));
      const ol = this.model.forward(g, P, lv, { dropPath: slots ? dpL : undefined });
      sLocal = dinoHeadForward(g, P, ol.cls, this.head);
      olStats = ol.bnStats;
    }
    const parts = dinoLoss(g, sGlobal, sLocal, tp, G, L, this.args.student_temp);
    const trainable = g.params.filter((p) => student.params.layout.has(p.name));
    const grads = g.grad(parts.loss, trainable.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss: parts.loss, dino_global: parts.global };
    if (parts.local) outputs.dino_local = parts.local;
    trainable.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    Object.assign(outputs, bnOutputs(og.bnStats, '_g'), bnOutputs(olStats, '_l'));
    this.studentBn = { global: og.bnStats, local: olStats };

    // teacher: forward over the global crops only, centred and sharpened targets
    const t = new Graph({ name: 'dino_teacher' });
    const TP = graphParams(t, teacher.specs);
    const tv = t.reshape(t.input('global_views', [G, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const center = t.input('center', [1, K]);
    const temp = t.input('teacher_temp', []);
    const ot = this.model.forward(t, TP, tv, {});
    const targets = dinoTeacherTargets(t, dinoHeadForward(t, TP, ot.cls, this.head), center, temp);
    const probs = t.reshape(targets.probs, [G, 'N', K]);
    this.teacherBn = ot.bnStats;
    const teacherOutputs = { probs, batch_center: targets.batchCenter, ...bnOutputs(ot.bnStats, '') };
    await this.openSessions(toBytes(g, outputs).bytes, toBytes(t, teacherOutputs).bytes);
    this.teacherFeeds.center = floatTensor(this.center.values, [1, K]);
  }

  frozenAt(step: number): readonly string[] {
    return step < this.args.freeze_last_layer_steps ? ['dino_head.last_layer.weight_v'] : [];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const { cfg } = this.ctx;
    const N = batch.size, G = this.nGlobal, L = this.nLocal;
    const Sg = cfg.transforms.global.size, Sl = cfg.transforms.local.size;
    this.globalBuf = stackViews(batch, 0, G, this.globalBuf);
    const globals = floatTensor(this.globalBuf, [G, N, 3, Sg, Sg]);

    const tOut = await this.teacherSession!.run({ ...this.teacherFeeds, global_views: globals, teacher_temp: scalarTensor(s.method.teacher_temp) });
    this.lastBatchCenter = tOut.batch_center.data as Float32Array;
    this.lastRows = G * N;
    this.lastTeacherStats = readBnStats(tOut, this.teacherBn, '');

    const feeds: Feeds = { ...this.studentFeeds, global_views: globals, teacher_probs: tOut.probs as ort.Tensor };
    const rng = new Rng(cfg.seed).fork(0xd20 + s.step);
    const part = batchPart(N, this.ctx.comm);
    const rate = cfg.drop_path_rate;
    dropPathMasks(this.model, rate, G, part, rng).forEach((m, i) => (feeds[`drop_path_global.${i}`] = floatTensor(m, [G, N])));
    if (L > 0) {
      this.localBuf = stackViews(batch, G, L, this.localBuf);
      feeds.local_views = floatTensor(this.localBuf, [L, N, 3, Sl, Sl]);
      dropPathMasks(this.model, rate, L, part, rng).forEach((m, i) => (feeds[`drop_path_local.${i}`] = floatTensor(m, [L, N])));
    }
    const fetches = {
      ...this.gradFetches,
      loss: null,
      dino_global: null,
      ...(L ? { dino_local: null } : {}),
      ...bnFetches(this.studentBn.global, '_g'),
      ...bnFetches(this.studentBn.local, '_l'),
    };
    const out = await this.trainSession!.run(feeds, fetches as never);
    this.lastStudentStats = [...readBnStats(out, this.studentBn.global, '_g'), ...readBnStats(out, this.studentBn.local, '_l')];
    const parts: Record<string, number> = { dino_global: scalarOf(out.dino_global) };
    if (L) parts.dino_local = scalarOf(out.dino_local);
    return { loss: scalarOf(out.loss), parts };
  }

  afterStep(s: StepScalars): void {
    this.updateTeacher(s.method.momentum);
    if (this.lastBatchCenter) this.center.update(this.lastBatchCenter, this.lastRows);
    this.student.updateBatchNorm(this.lastStudentStats);
    this.teacher.updateBatchNorm(this.lastTeacherStats);
  }
}
