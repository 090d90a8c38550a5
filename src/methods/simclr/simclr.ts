// SimCLR (Chen et al. 2020): two augmented views of each image go through one backbone and a projection head
// (Linear-BN-ReLU-Linear); NT-Xent pulls each image's two projections together and pushes them from the other
// 2N−2 projections in the batch. No teacher: the student is the network that is trained, checkpointed and exported.
import * as ort from 'onnxruntime-node';
import type { Batch } from '../../data/loader.js';
import { type Network, trainingNetworks } from '../../engine/network.js';
import type { FlatTensors } from '../../engine/param-store.js';
import { createSession, floatTensor, scalarOf, type Feeds } from '../../engine/session.js';
import { Graph, toBytes, type Tensor } from '../../graph/index.js';
import { graphParams } from '../../models/graph-params.js';
import { simclrHeadForward } from '../../models/heads.js';
import { simclrHeadConfig, simclrHeadSpec, type ProjectionHeadConfig } from '../../models/heads-spec.js';
import type { BnStat } from '../../models/layers/batch-norm.js';
import type { BackboneModel } from '../../models/registry.js';
import { MASK_TOKEN } from '../../models/vit-spec.js';
import type { BackboneWeights, SerializedTensor } from '../../models/weights.js';
import { Rng } from '../../util/rng.js';
import { backboneWeights, bnFetches, bnOutputs, gradientFetches, loadBackboneInto, networkFeeds, readBnStats, type BnValues } from '../graph-io.js';
import type { MethodContext, StepResult, StepScalars, TrainingMethod } from '../method.js';
import { batchPart, dropPathMasks, stackViews } from '../views.js';
import type { SimclrArgs } from './index.js';
import { ntXentAcrossRanks, ntXentLoss } from './ntxent-loss.js';

export const VIEWS = 2;

export class SimClr implements TrainingMethod {
  readonly student: Network;
  readonly grads: FlatTensors;
  readonly head: ProjectionHeadConfig;
  readonly args: SimclrArgs;
  private session!: ort.InferenceSession;
  /** in a data-parallel job: the projections alone, and NT-Xent against every rank's projections */
  private projectSession?: ort.InferenceSession;
  private lossSession?: ort.InferenceSession;
  private feeds!: Feeds;
  private fetches!: Record<string, ort.Tensor | null>;
  private bn: BnStat[] = [];
  private lastStats: BnValues[] = [];
  private viewsBuf?: Float32Array;

  constructor(
    private readonly ctx: MethodContext,
    readonly model: BackboneModel,
  ) {
    const { cfg } = ctx;
    this.args = cfg.method_args as unknown as SimclrArgs;
    this.head = simclrHeadConfig(model.embedDim, { hiddenDim: this.args.hidden_dim, outDim: this.args.output_dim });
    const specs = [...model.spec().filter((p) => p.name !== MASK_TOKEN), ...simclrHeadSpec(this.head)];
    const nets = trainingNetworks(specs, new Rng(cfg.seed).fork(0x5eed));
    this.student = nets.student;
    this.grads = nets.grads;
  }

  get params() {
    return this.student.params;
  }

  async init(): Promise<void> {
    const { session, comm } = this.ctx;
    if (comm.size === 1) {
      // one graph: forward, NT-Xent over the batch, every gradient
      const { g, z, trainable } = this.forwardGraph('simclr');
      const loss = ntXentLoss(g, z, this.args.temperature);
      this.session = await createSession(this.withGradients(g, loss, trainable, { loss }), session);
    } else {
      // a job: the projections first (to gather them), then the gradients of this rank's anchors against every
      // rank's projections, then the backward pass of this rank's part with the projections' gradient summed
      // over ranks (lightly's GatherLayer). The forward runs twice; BatchNorm normalises each rank's part.
      const f = this.forwardGraph('simclr_projections');
      this.projectSession = await createSession(toBytes(f.g, { z: f.z, ...bnOutputs(this.bn) }).bytes, session);
      const l = new Graph({ name: 'simclr_loss_across_ranks' });
      const local = VIEWS * (this.ctx.cfg.batch_size / comm.size);
      const zAll = l.param('z_all', [local * comm.size, this.head.outDim]);
      const loss = ntXentAcrossRanks(l, zAll, comm.rank, comm.size, this.args.temperature);
      this.lossSession = await createSession(toBytes(l, { loss, grad_z_all: l.grad(loss, [zAll])[0] }).bytes, session);
      const b = this.forwardGraph('simclr_backward');
      const upstream = b.g.input('grad_z', b.z.shape);
      this.session = await createSession(this.withGradients(b.g, b.g.reduceSum(b.g.mul(b.z, upstream), undefined, false), b.trainable, {}), session);
    }
    // parameters fed as views over the flat store and gradients written straight into `grads` (no copies per step)
    this.feeds = networkFeeds(this.session.inputNames, this.student);
    const graded = this.session.outputNames.filter((n) => n.startsWith('grad:')).map((n) => ({ name: n.slice(5) }));
    this.fetches = { ...(comm.size === 1 ? { loss: null } : {}), ...gradientFetches(this.grads, graded), ...bnFetches(this.bn) };
  }

  /**
   * Both views in one forward, [2, N, ...] -> [2N, ...] view-major: BatchNorm (backbone and head) normalises with the
   * statistics of all 2N images at once, as SimCLR implementations that concatenate the views do.
   */
  private forwardGraph(name: string) {
    const S = this.ctx.cfg.transforms.global.size;
    const slots = this.ctx.cfg.drop_path_rate > 0 ? this.model.dropPathSlots : 0;
    const g = new Graph({ name });
    const P = graphParams(g, this.student.specs);
    const images = g.reshape(g.input('views', [VIEWS, 'N', 3, S, S]), [-1, 3, S, S]);
    const dropPath = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path.${i}`, [VIEWS, 'N']), [-1]));
    const o = this.model.forward(g, P, images, { dropPath: slots ? dropPath : undefined, bnMode: 'train' });
    const headStats: BnStat[] = [];
    const z = simclrHeadForward(g, P, o.cls, this.head, 'train', headStats);
    this.bn = [...o.bnStats, ...headStats];
    return { g, z, trainable: () => g.params.filter((p) => this.student.params.layout.has(p.name)) };
  }

  /** The graph's bytes with `grad:<name>` outputs of `objective` for every trainable parameter, and the BN statistics. */
  private withGradients(g: Graph, objective: Tensor, trainable: () => { name: string; tensor: Tensor }[], outputs: Record<string, Tensor>): Uint8Array {
    const params = trainable();
    const grads = g.grad(objective, params.map((p) => p.tensor));
    params.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    return toBytes(g, { ...outputs, ...bnOutputs(this.bn) }).bytes;
  }

  frozenAt(): readonly string[] {
    return [];
  }

  async forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult> {
    const S = this.ctx.cfg.transforms.global.size;
    const N = batch.size;
    this.viewsBuf = stackViews(batch, 0, VIEWS, this.viewsBuf);
    const feeds: Feeds = { ...this.feeds, views: floatTensor(this.viewsBuf, [VIEWS, N, 3, S, S]) };
    const rng = new Rng(this.ctx.cfg.seed).fork(0xc1a + s.step);
    dropPathMasks(this.model, this.ctx.cfg.drop_path_rate, VIEWS, batchPart(N, this.ctx.comm), rng).forEach(
      (m, i) => (feeds[`drop_path.${i}`] = floatTensor(m, [VIEWS, N])),
    );
    if (!this.projectSession) {
      const out = await this.session.run(feeds, this.fetches as never);
      this.lastStats = readBnStats(out, this.bn);
      return { loss: scalarOf(out.loss), parts: {} };
    }
    const comm = this.ctx.comm;
    const z = (await this.projectSession.run(feeds, ['z'])).z.data as Float32Array;
    const zAll = new Float32Array(z.length * comm.size);
    comm.allgather(z, zAll);
    const l = await this.lossSession!.run({ z_all: floatTensor(zAll, [zAll.length / this.head.outDim, this.head.outDim]) });
    const gradAll = l.grad_z_all.data as Float32Array;
    comm.allreduceSum(gradAll);
    const mine = gradAll.subarray(comm.rank * z.length, (comm.rank + 1) * z.length);
    const out = await this.session.run({ ...feeds, grad_z: floatTensor(mine, [z.length / this.head.outDim, this.head.outDim]) }, this.fetches as never);
    this.lastStats = readBnStats(out, this.bn);
    return { loss: scalarOf(l.loss), parts: {} };
  }

  /** BatchNorm running statistics (backbone and head) from the step's batch statistics; no teacher, no EMA. */
  afterStep(_s?: StepScalars): void {
    this.student.updateBatchNorm(this.lastStats);
    this.lastStats = [];
  }

  stateTensors(): Map<string, SerializedTensor> {
    return this.student.tensors('student.');
  }

  /** The student's backbone (SimCLR has no teacher, so `part` does not matter). */
  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void {
    loadBackboneInto([this.student], tensors);
  }

  backbone(): BackboneWeights {
    return backboneWeights(this.model, this.student);
  }

  async release(): Promise<void> {
    await this.session?.release();
    await this.projectSession?.release();
    await this.lossSession?.release();
  }
}
