// DINOv2 (Oquab et al. 2023): DINO's class-token loss over global and local crops, plus iBOT's masked-patch loss
// (the student sees the global crops with block masks, the mask token in place of the masked patches, and predicts
// the teacher's distribution for those patches seen unmasked), plus the KoLeo regulariser that spreads the student's
// class tokens within each global crop. The teacher is an EMA of the student and sees the global crops only; its
// targets are softmax-centred (a center per token kind) or Sinkhorn-Knopp balanced. Optimisation as dinov2: layer-wise
// learning-rate decay, a smaller rate for the patch embedding, the heads' last layer frozen at first.
import * as ort from 'onnxruntime-node';
import { resolvePrototypes, type Dinov2Args } from '../config/methods.js';
import type { PretrainConfig } from '../config/schema.js';
import type { Batch, LoaderMaskOptions } from '../data/loader.js';
import { emaUpdate } from '../engine/ema.js';
import type { FlatTensors } from '../engine/param-store.js';
import { createSession, floatTensor, scalarOf, scalarTensor, type Feeds } from '../engine/session.js';
import { Graph, toBytes, type Tensor } from '../graph/index.js';
import { graphParams } from '../models/graph-params.js';
import { dinoHeadForward } from '../models/heads.js';
import { dinoHeadConfig, dinoHeadSpec, type DinoHeadConfig } from '../models/heads-spec.js';
import { modelOverrides } from '../models/overrides.js';
import { layerDecayScale, type ParamSpec } from '../models/params.js';
import { getModel, type BackboneModel } from '../models/registry.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { autoFreezeSteps } from '../train/schedules.js';
import { maskedPatches } from './dinov2/masked-patches.js';
import { dinoLoss, dinoTeacherTargets } from './losses/dino.js';
import { ibotLoss, ibotTeacherTargets } from './losses/ibot.js';
import { koleoLoss } from './losses/koleo.js';
import { sinkhornKnopp } from './losses/sinkhorn-knopp.js';
import { backboneWeights, loadBackboneInto, networkFeeds } from './graph-io.js';
import type { BackboneWeights, MethodContext, SerializedTensor, StepResult, StepScalars, TrainingMethod } from './method.js';
import { Network, trainingArena } from './network.js';
import { dropPathMasks, stackViews } from './views.js';

/** The backbone DINOv2 trains: the config's model with a mask token; anything but a ViT is a UserError. */
export function dinov2Model(cfg: PretrainConfig): BackboneModel {
  return requireVit(getModel(cfg.model, modelOverrides(cfg.model_args, { maskToken: true })));
}

function requireVit(model: BackboneModel): BackboneModel {
  if (model.kind !== 'vit' || !model.patchSize) {
    throw new UserError(
      `DINOv2 needs a Vision Transformer: its iBOT loss replaces masked patch tokens with a mask token, and ${model.name} ` +
        `has no patch tokens. Use a ViT (e.g. --model vit-small/14), or --method dino for a ${model.name}.`,
    );
  }
  return model;
}

/** The loader's iBOT mask options for a dinov2 run (undefined for other methods): the patch grid, ratios, probability. */
export function loaderMasks(cfg: PretrainConfig): LoaderMaskOptions | undefined {
  if (cfg.method !== 'dinov2') return undefined;
  const a = cfg.method_args as Dinov2Args;
  return { patchSize: dinov2Model(cfg).patchSize!, ratio: a.mask_ratio, probability: a.mask_probability };
}

/** dinov2's learning-rate multipliers: decay^(layers from the top) per ViT layer, times the patch-embedding factor. */
export function dinov2LrScale(args: Pick<Dinov2Args, 'layerwise_decay' | 'patch_embed_lr_multiplier'>): (p: ParamSpec) => number {
  return (p) => layerDecayScale(p, args.layerwise_decay) * (p.lr.group === 'patch_embed' ? args.patch_embed_lr_multiplier : 1);
}

const LAST_LAYER = 'last_layer.weight_v';

export class Dinov2 implements TrainingMethod {
  readonly name = 'dinov2';
  readonly defaultExportPart = 'teacher' as const;
  readonly student: Network;
  readonly teacher: Network;
  readonly grads: FlatTensors;
  /** softmax centering state: moving means of the teacher's class-token and masked-patch logits */
  readonly centerCls: Float32Array;
  readonly centerPatch: Float32Array;
  readonly head: DinoHeadConfig;
  /** the iBOT head: the DINO head itself (shared, default) or its own 'ibot_head.' */
  readonly ibotHead: DinoHeadConfig;
  readonly ibotPrefix: string;
  readonly args: Dinov2Args;
  readonly freezeLastLayerSteps: number;
  private trainSession!: ort.InferenceSession;
  private teacherSession!: ort.InferenceSession;
  private studentFeeds!: Feeds;
  private teacherFeeds!: Feeds;
  private gradFetches!: Feeds;
  private lastBatchCenter: { cls: Float32Array; patch: Float32Array } | null = null;
  private lastMaskedCount = 0;
  private globalBuf?: Float32Array;
  private localBuf?: Float32Array;
  private readonly nGlobal: number;
  private readonly nLocal: number;
  private readonly patches: number;

  constructor(
    private readonly ctx: MethodContext,
    readonly model: BackboneModel = dinov2Model(ctx.cfg),
  ) {
    const { cfg } = ctx;
    requireVit(model);
    const a = (this.args = cfg.method_args as Dinov2Args);
    this.nGlobal = cfg.transforms.global.count;
    this.nLocal = cfg.transforms.local.count;
    if (this.nGlobal < 1 || this.nGlobal + this.nLocal < 2) {
      throw new UserError(`DINOv2 needs at least one global crop and two crops in all (got ${this.nGlobal} global, ${this.nLocal} local)`);
    }
    const Sg = cfg.transforms.global.size, ps = model.patchSize!;
    if (Sg % ps !== 0) throw new UserError(`transforms.global.size: ${Sg} px is not a multiple of ${model.name}'s patch size ${ps}`);
    this.patches = (Sg / ps) ** 2;

    const dims = { hiddenDim: a.hidden_dim, bottleneckDim: a.bottleneck_dim };
    this.head = dinoHeadConfig(model.embedDim, resolvePrototypes(a.output_dim, ctx.datasetSize), dims);
    this.ibotHead = a.ibot_separate_head ? dinoHeadConfig(model.embedDim, resolvePrototypes(a.ibot_output_dim, ctx.datasetSize), dims) : this.head;
    this.ibotPrefix = a.ibot_separate_head ? 'ibot_head.' : 'dino_head.';
    const specs = [...model.spec(), ...dinoHeadSpec(this.head), ...(a.ibot_separate_head ? dinoHeadSpec(this.ibotHead, 'ibot_head.') : [])];
    this.student = Network.init(specs, new Rng(cfg.seed).fork(0x5eed), dinov2LrScale(a), trainingArena(specs));
    this.teacher = this.student.clone();
    this.grads = this.student.params.createGradients();
    this.centerCls = new Float32Array(this.head.outDim);
    this.centerPatch = new Float32Array(this.ibotHead.outDim);
    this.freezeLastLayerSteps =
      a.freeze_last_layer_steps === 'auto' ? autoFreezeSteps(ctx.datasetSize, cfg.batch_size, ctx.totalSteps) : a.freeze_last_layer_steps;
  }

  get params() {
    return this.student.params;
  }

  async init(): Promise<void> {
    const { session } = this.ctx;
    this.trainSession = await createSession(this.buildStudent(), session);
    this.teacherSession = await createSession(this.buildTeacher(), session);
    this.studentFeeds = networkFeeds(this.trainSession.inputNames, this.student);
    this.teacherFeeds = networkFeeds(this.teacherSession.inputNames, this.teacher);
    if (this.args.centering === 'softmax') {
      this.teacherFeeds.center_cls = floatTensor(this.centerCls, [1, this.head.outDim]);
      this.teacherFeeds.center_patch = floatTensor(this.centerPatch, [1, this.ibotHead.outDim]);
    }
    this.gradFetches = {};
    for (const name of this.trainSession.outputNames) {
      if (!name.startsWith('grad:')) continue;
      const i = this.grads.layout.indexOf(name.slice(5));
      this.gradFetches[name] = new ort.Tensor('float32', this.grads.views[i], [...this.grads.layout.shapes[i]]);
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

    const trainable = g.params.filter((p) => this.student.params.layout.has(p.name));
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
    } else {
      outputs.probs = sinkhornKnopp(t, cls, temp);
      outputs.patch_probs = sinkhornKnopp(t, patch, temp, { valid });
    }
    outputs.probs = t.reshape(outputs.probs, [G, 'N', K]);
    return toBytes(t, outputs).bytes;
  }

  frozenAt(step: number): readonly string[] {
    if (step >= this.freezeLastLayerSteps) return [];
    return this.args.ibot_separate_head ? [`dino_head.${LAST_LAYER}`, `ibot_head.${LAST_LAYER}`] : [`dino_head.${LAST_LAYER}`];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const { cfg } = this.ctx;
    const N = batch.size, G = this.nGlobal, L = this.nLocal, T = this.patches;
    const Sg = cfg.transforms.global.size, Sl = cfg.transforms.local.size;
    if (!batch.masks) throw new Error('dinov2: the batch has no iBOT masks; create the DataLoader with masks: loaderMasks(cfg)');
    if (batch.maskGrid && batch.maskGrid[0] * batch.maskGrid[1] !== T) {
      throw new Error(`dinov2: masks on a ${batch.maskGrid.join('x')} grid, the model has ${T} patches per global crop`);
    }
    const mp = maskedPatches(batch.masks, G * N, T);
    this.lastMaskedCount = mp.count;
    const M = mp.index.length;
    const maskFeeds: Feeds = {
      mask_index: new ort.Tensor('int64', mp.index, [M]),
      mask_weight: floatTensor(mp.weight, [M]),
    };
    this.globalBuf = stackViews(batch, 0, G, this.globalBuf);
    const globals = floatTensor(this.globalBuf, [G, N, 3, Sg, Sg]);

    const tOut = await this.teacherSession.run({ ...this.teacherFeeds, ...maskFeeds, global_views: globals, teacher_temp: scalarTensor(s.teacherTemp) });
    this.lastBatchCenter =
      this.args.centering === 'softmax' ? { cls: tOut.batch_center.data as Float32Array, patch: tOut.batch_center_patch.data as Float32Array } : null;

    const feeds: Feeds = {
      ...this.studentFeeds,
      ...maskFeeds,
      global_views: globals,
      masks: floatTensor(mp.dense, [G, N, T]),
      teacher_probs: tOut.probs as ort.Tensor,
      teacher_patch_probs: tOut.patch_probs as ort.Tensor,
    };
    // dinov2 drops residual branches at one uniform rate in every block
    const rng = new Rng(cfg.seed).fork(0xd1a0 + s.step);
    const rate = cfg.drop_path_rate;
    dropPathMasks(this.model, rate, G * N, rng, true).forEach((m, i) => (feeds[`drop_path_global.${i}`] = floatTensor(m, [G, N])));
    if (L > 0) {
      this.localBuf = stackViews(batch, G, L, this.localBuf);
      feeds.local_views = floatTensor(this.localBuf, [L, N, 3, Sl, Sl]);
      dropPathMasks(this.model, rate, L * N, rng, true).forEach((m, i) => (feeds[`drop_path_local.${i}`] = floatTensor(m, [L, N])));
    }
    const partNames = ['dino_global', ...(L > 0 ? ['dino_local'] : []), 'ibot', 'koleo'];
    const fetches: Record<string, ort.Tensor | null> = { ...this.gradFetches, loss: null };
    for (const n of partNames) fetches[n] = null;
    const out = await this.trainSession.run(feeds, fetches as never);
    const parts: Record<string, number> = {};
    for (const n of partNames) parts[n] = scalarOf(out[n]);
    return { loss: scalarOf(out.loss), parts };
  }

  afterStep(s: StepScalars): void {
    emaUpdate(this.teacher.params.flat, this.student.params.flat, s.momentum);
    const bc = this.lastBatchCenter;
    if (!bc) return;
    const m = this.args.center_momentum;
    for (let k = 0; k < this.centerCls.length; k++) this.centerCls[k] = this.centerCls[k] * m + bc.cls[k] * (1 - m);
    // a batch without masked patches has no patch logits to average: the patch center stays
    if (this.lastMaskedCount > 0) {
      for (let k = 0; k < this.centerPatch.length; k++) this.centerPatch[k] = this.centerPatch[k] * m + bc.patch[k] * (1 - m);
    }
  }

  stateTensors(): Map<string, SerializedTensor> {
    return new Map([
      ...this.student.tensors('student.'),
      ...this.teacher.tensors('teacher.'),
      ['dinov2.center_cls', { shape: [1, this.centerCls.length], data: this.centerCls }],
      ['dinov2.center_patch', { shape: [1, this.centerPatch.length], data: this.centerPatch }],
    ]);
  }

  loadStateTensors(tensors: ReadonlyMap<string, SerializedTensor>): void {
    this.student.load(tensors, 'student.', 'checkpoint');
    this.teacher.load(tensors, 'teacher.', 'checkpoint');
    for (const [name, center] of [['dinov2.center_cls', this.centerCls], ['dinov2.center_patch', this.centerPatch]] as const) {
      const c = tensors.get(name);
      if (!c || c.data.length !== center.length) throw new Error(`checkpoint: ${name} is missing or has the wrong size`);
      center.set(c.data);
    }
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


