// DINOv2 (Oquab et al. 2023): DINO's class-token loss over global and local crops, plus iBOT's masked-patch loss
// (the student sees the global crops with block masks, the mask token in place of the masked patches, and predicts
// the teacher's distribution for those patches seen unmasked), plus the KoLeo regulariser that spreads the student's
// class tokens within each global crop. The teacher is an EMA of the student and sees the global crops only; its
// targets are softmax-centred (a center per token kind) or Sinkhorn-Knopp balanced. Optimisation as dinov2: layer-wise
// learning-rate decay, a smaller rate for the patch embedding, the heads' last layer frozen at first.
import * as ort from 'onnxruntime-node';
import type { Batch } from '../../data/loader.js';
import { floatTensor, scalarOf, scalarTensor, type Feeds } from '../../engine/session.js';
import { Graph, toBytes, type Tensor } from '../../graph/index.js';
import { graphParams } from '../../models/graph-params.js';
import { dinoHeadForward } from '../../models/heads.js';
import { dinoHeadConfig, dinoHeadSpec, type DinoHeadConfig } from '../../models/heads-spec.js';
import { layerDecayScale, type ParamSpec } from '../../models/params.js';
import type { BackboneModel } from '../../models/registry.js';
import { Rng } from '../../util/rng.js';
import { dinoLoss, dinoTeacherTargets } from '../dino/loss.js';
import type { MethodContext, StepResult, StepScalars } from '../method.js';
import { Center } from '../teacher/center.js';
import { TeacherStudent } from '../teacher/teacher-student.js';
import { batchPart, dropPathMasks, stackViews } from '../views.js';
import { ibotLoss, ibotTeacherTargets } from './ibot-loss.js';
import type { Dinov2Args } from './index.js';
import { koleoLoss } from './koleo-loss.js';
import { maskedPatches } from './masked-patches.js';
import { sinkhornAcrossRanks } from './sinkhorn-across-ranks.js';
import { sinkhornKnopp } from './sinkhorn-knopp.js';

type Resolved = Dinov2Args & { output_dim: number; ibot_output_dim: number; freeze_last_layer_steps: number };

/** dinov2's learning-rate multipliers: decay^(layers from the top) per ViT layer, times the patch-embedding factor. */
export function dinov2LrScale(args: Pick<Dinov2Args, 'layerwise_decay' | 'patch_embed_lr_multiplier'>): (p: ParamSpec) => number {
  return (p) => layerDecayScale(p, args.layerwise_decay) * (p.lr.group === 'patch_embed' ? args.patch_embed_lr_multiplier : 1);
}

const LAST_LAYER = 'last_layer.weight_v';

export class Dinov2 extends TeacherStudent {
  /** softmax centering state: moving means of the teacher's class-token and masked-patch logits */
  readonly centerCls: Center;
  readonly centerPatch: Center;
  readonly head: DinoHeadConfig;
  /** the iBOT head: the DINO head itself (shared, default) or its own 'ibot_head.' */
  readonly ibotHead: DinoHeadConfig;
  readonly ibotPrefix: string;
  readonly args: Resolved;
  private lastBatchCenter: { cls: Float32Array; patch: Float32Array } | null = null;
  private lastMaskedCount = 0;
  private lastClsRows = 0;
  private globalBuf?: Float32Array;
  private localBuf?: Float32Array;
  private readonly nGlobal: number;
  private readonly nLocal: number;
  private readonly patches: number;

  constructor(ctx: MethodContext, model: BackboneModel) {
    const a = ctx.cfg.method_args as unknown as Resolved;
    const dims = { hiddenDim: a.hidden_dim, bottleneckDim: a.bottleneck_dim };
    const head = dinoHeadConfig(model.embedDim, a.output_dim, dims);
    const ibotHead = a.ibot_separate_head ? dinoHeadConfig(model.embedDim, a.ibot_output_dim, dims) : head;
    super(ctx, model, [...model.spec(), ...dinoHeadSpec(head), ...(a.ibot_separate_head ? dinoHeadSpec(ibotHead, 'ibot_head.') : [])], dinov2LrScale(a));
    this.args = a;
    this.head = head;
    this.ibotHead = ibotHead;
    this.ibotPrefix = a.ibot_separate_head ? 'ibot_head.' : 'dino_head.';
    this.nGlobal = ctx.cfg.transforms.global.count;
    this.nLocal = ctx.cfg.transforms.local.count;
    this.patches = (ctx.cfg.transforms.global.size / model.patchSize!) ** 2;
    this.centerCls = new Center('dinov2.center_cls', head.outDim, a.center_momentum, ctx.comm);
    this.centerPatch = new Center('dinov2.center_patch', ibotHead.outDim, a.center_momentum, ctx.comm);
  }

  protected centers() {
    return [this.centerCls, this.centerPatch];
  }

  async init(): Promise<void> {
    await this.openSessions(this.buildStudent(), this.buildTeacher());
    if (this.args.centering === 'softmax') {
      this.teacherFeeds.center_cls = floatTensor(this.centerCls.values, [1, this.head.outDim]);
      this.teacherFeeds.center_patch = floatTensor(this.centerPatch.values, [1, this.ibotHead.outDim]);
    }
  }

  /** Student: masked global crops and local crops -> DINO, iBOT and KoLeo losses and every gradient. */
  private buildStudent(): Uint8Array {
    const { cfg } = this.ctx;
    const a = this.args;
    const G = this.nGlobal, L = this.nLocal, T = this.patches, D = this.model.embedDim;
    const Sg = cfg.transforms.global.size, Sl = cfg.transforms.local.size;
    const slots = cfg.drop_path_rate > 0 ? this.model.dropPathSlots : 0;
    const g = new Graph({ name: 'dinov2_student' });
    const P = graphParams(g, this.student.specs);
    // views enter view-major as [views, N, ...] so every crop count shares the one batch symbol N
    const gv = g.reshape(g.input('global_views', [G, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const masks = g.reshape(g.input('masks', [G, 'N', T]), [-1, T]);
    const maskIndex = g.input('mask_index', ['M'], 'int64');
    const maskWeight = g.input('mask_weight', ['M']);
    const teacherProbs = g.reshape(g.input('teacher_probs', [G, 'N', this.head.outDim]), [-1, this.head.outDim]);
    const teacherPatchProbs = g.input('teacher_patch_probs', ['M', this.ibotHead.outDim]);
    const dropPath = (name: string, views: number) =>
      slots ? Array.from({ length: slots }, (_, i) => g.reshape(g.input(`${name}.${i}`, [views, 'N']), [-1])) : undefined;

    const og = this.model.forward(g, P, gv, { masks, dropPath: dropPath('drop_path_global', G) });
    const sGlobal = dinoHeadForward(g, P, og.cls, this.head);
    const maskedTokens = g.gather(g.reshape(og.patchTokens!, [-1, D]), maskIndex, 0); // [M, D]
    const sPatch = dinoHeadForward(g, P, maskedTokens, this.ibotHead, this.ibotPrefix);
    let sLocal: Tensor | null = null;
    if (L > 0) {
      const lv = g.reshape(g.input('local_views', [L, 'N', 3, Sl, Sl]), [-1, 3, Sl, Sl]);
      sLocal = dinoHeadForward(g, P, this.model.forward(g, P, lv, { dropPath: dropPath('drop_path_local', L) }).cls, this.head);
    }

    const dino = dinoLoss(g, sGlobal, sLocal, teacherProbs, G, L, a.student_temp);
    const ibot = ibotLoss(g, sPatch, teacherPatchProbs, maskWeight, g.dimScalar(og.cls.shape[0]), a.student_temp);
    // KoLeo within each global crop (the two crops of one image are not neighbours), summed over crops as dinov2
    const koleo = g.reduceSum(koleoLoss(g, g.reshape(og.cls, [G, 'N', D])), undefined, false);
    const loss = g.add(g.add(g.mul(dino.loss, a.dino_loss_weight), g.mul(ibot, a.ibot_loss_weight)), g.mul(koleo, a.koleo_loss_weight));

    const trainable = g.params.filter((p) => this.params.layout.has(p.name));
    const grads = g.grad(loss, trainable.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss, dino_global: dino.global, ibot, koleo };
    if (dino.local) outputs.dino_local = dino.local;
    trainable.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    return toBytes(g, outputs).bytes;
  }

  /** Teacher: unmasked global crops -> class-token targets [G, N, K] and masked-patch targets [M, Kp]. */
  private buildTeacher(): Uint8Array {
    const { cfg } = this.ctx;
    const G = this.nGlobal, D = this.model.embedDim, Sg = cfg.transforms.global.size;
    const K = this.head.outDim, Kp = this.ibotHead.outDim;
    const t = new Graph({ name: 'dinov2_teacher' });
    const P = graphParams(t, this.teacher.specs);
    const views = t.reshape(t.input('global_views', [G, 'N', 3, Sg, Sg]), [-1, 3, Sg, Sg]);
    const maskIndex = t.input('mask_index', ['M'], 'int64');
    const valid = t.cast(t.greater(t.input('mask_weight', ['M']), 0), t.dtype);
    const temp = t.input('teacher_temp', []);
    const o = this.model.forward(t, P, views, {});
    const cls = dinoHeadForward(t, P, o.cls, this.head);
    const patch = dinoHeadForward(t, P, t.gather(t.reshape(o.patchTokens!, [-1, D]), maskIndex, 0), this.ibotHead, this.ibotPrefix);
    const outputs: Record<string, Tensor> = {};
    if (this.args.centering === 'softmax') {
      const c = dinoTeacherTargets(t, cls, t.input('center_cls', [1, K]), temp);
      const p = ibotTeacherTargets(t, patch, t.input('center_patch', [1, Kp]), temp, valid);
      Object.assign(outputs, { probs: c.probs, patch_probs: p.probs, batch_center: c.batchCenter, batch_center_patch: p.batchCenter });
    } else if (this.ctx.comm.size === 1) {
      outputs.probs = sinkhornKnopp(t, cls, temp);
      outputs.patch_probs = sinkhornKnopp(t, patch, temp, { valid });
    } else {
      // balanced over the whole job's batch: the prototype sums are all-reduced between the rounds (forwardBackward)
      Object.assign(outputs, { scores: t.div(cls, temp), patch_scores: t.div(patch, temp) });
    }
    if (outputs.probs) outputs.probs = t.reshape(outputs.probs, [G, 'N', K]);
    return toBytes(t, outputs).bytes;
  }

  frozenAt(step: number): readonly string[] {
    if (step >= this.args.freeze_last_layer_steps) return [];
    return this.args.ibot_separate_head ? [`dino_head.${LAST_LAYER}`, `ibot_head.${LAST_LAYER}`] : [`dino_head.${LAST_LAYER}`];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const { cfg } = this.ctx;
    const N = batch.size, G = this.nGlobal, L = this.nLocal, T = this.patches;
    const Sg = cfg.transforms.global.size, Sl = cfg.transforms.local.size;
    if (!batch.masks) throw new Error("dinov2: the batch has no iBOT masks; create the DataLoader with the definition's loader masks");
    if (batch.maskGrid && batch.maskGrid[0] * batch.maskGrid[1] !== T) {
      throw new Error(`dinov2: masks on a ${batch.maskGrid.join('x')} grid, the model has ${T} patches per global crop`);
    }
    const mp = maskedPatches(batch.masks, G * N, T);
    this.lastMaskedCount = mp.count;
    this.lastClsRows = G * N;
    const M = mp.index.length;
    const maskFeeds: Feeds = {
      mask_index: new ort.Tensor('int64', mp.index, [M]),
      mask_weight: floatTensor(mp.weight, [M]),
    };
    this.globalBuf = stackViews(batch, 0, G, this.globalBuf);
    const globals = floatTensor(this.globalBuf, [G, N, 3, Sg, Sg]);

    const tOut = await this.teacherSession!.run({ ...this.teacherFeeds, ...maskFeeds, global_views: globals, teacher_temp: scalarTensor(s.method.teacher_temp) });
    this.lastBatchCenter =
      this.args.centering === 'softmax' ? { cls: tOut.batch_center.data as Float32Array, patch: tOut.batch_center_patch.data as Float32Array } : null;

    const targets = tOut.scores ? this.balancedAcrossRanks(tOut, G, N, M, mp.weight) : { probs: tOut.probs, patch: tOut.patch_probs };
    const feeds: Feeds = {
      ...this.studentFeeds,
      ...maskFeeds,
      global_views: globals,
      masks: floatTensor(mp.dense, [G, N, T]),
      teacher_probs: targets.probs as ort.Tensor,
      teacher_patch_probs: targets.patch as ort.Tensor,
    };
    // dinov2 drops residual branches at one uniform rate in every block
    const rng = new Rng(cfg.seed).fork(0xd1a0 + s.step);
    const part = batchPart(N, this.ctx.comm);
    const rate = cfg.drop_path_rate;
    dropPathMasks(this.model, rate, G, part, rng, true).forEach((m, i) => (feeds[`drop_path_global.${i}`] = floatTensor(m, [G, N])));
    if (L > 0) {
      this.localBuf = stackViews(batch, G, L, this.localBuf);
      feeds.local_views = floatTensor(this.localBuf, [L, N, 3, Sl, Sl]);
      dropPathMasks(this.model, rate, L, part, rng, true).forEach((m, i) => (feeds[`drop_path_local.${i}`] = floatTensor(m, [L, N])));
    }
    const partNames = ['dino_global', ...(L > 0 ? ['dino_local'] : []), 'ibot', 'koleo'];
    const fetches: Record<string, ort.Tensor | null> = { ...this.gradFetches, loss: null };
    for (const n of partNames) fetches[n] = null;
    const out = await this.trainSession!.run(feeds, fetches as never);
    const parts: Record<string, number> = {};
    for (const n of partNames) parts[n] = scalarOf(out[n]);
    return { loss: scalarOf(out.loss), parts };
  }

  /** Sinkhorn-Knopp targets over the job's whole batch, from this rank's teacher scores. */
  private balancedAcrossRanks(tOut: ort.InferenceSession.OnnxValueMapType, G: number, N: number, M: number, weight: Float32Array) {
    const comm = this.ctx.comm, K = this.head.outDim, Kp = this.ibotHead.outDim;
    const probs = sinkhornAcrossRanks(tOut.scores.data as Float32Array, K, comm);
    const patch = sinkhornAcrossRanks(tOut.patch_scores.data as Float32Array, Kp, comm, weight);
    return { probs: floatTensor(probs, [G, N, K]), patch: floatTensor(patch, [M, Kp]) };
  }

  afterStep(s: StepScalars): void {
    this.updateTeacher(s.method.momentum);
    const bc = this.lastBatchCenter;
    if (!bc) return;
    this.centerCls.update(bc.cls, this.lastClsRows);
    // a batch without masked patches has no patch logits to average: the patch center stays
    this.centerPatch.update(bc.patch, this.lastMaskedCount);
  }
}
