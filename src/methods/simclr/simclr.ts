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
import { dropPathMasks, stackViews } from '../views.js';
import type { SimclrArgs } from './index.js';
import { ntXentLoss } from './ntxent-loss.js';

export const VIEWS = 2;

export class SimClr implements TrainingMethod {
  readonly student: Network;
  readonly grads: FlatTensors;
  readonly head: ProjectionHeadConfig;
  readonly args: SimclrArgs;
  private session!: ort.InferenceSession;
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
    const { cfg, session } = this.ctx;
    const S = cfg.transforms.global.size;
    const slots = cfg.drop_path_rate > 0 ? this.model.dropPathSlots : 0;
    const g = new Graph({ name: 'simclr' });
    const P = graphParams(g, this.student.specs);
    // Both views in one forward, [2, N, ...] -> [2N, ...] view-major: BatchNorm (backbone and head) normalises with
    // the statistics of all 2N images at once, as SimCLR implementations that concatenate the views do (the paper's
    // global BN, on one device).
    const images = g.reshape(g.input('views', [VIEWS, 'N', 3, S, S]), [-1, 3, S, S]);
    const dropPath = Array.from({ length: slots }, (_, i) => g.reshape(g.input(`drop_path.${i}`, [VIEWS, 'N']), [-1]));
    const o = this.model.forward(g, P, images, { dropPath: slots ? dropPath : undefined, bnMode: 'train' });
    const headStats: BnStat[] = [];
    const z = simclrHeadForward(g, P, o.cls, this.head, 'train', headStats);
    const loss = ntXentLoss(g, z, this.args.temperature);

    const trainable = g.params.filter((p) => this.student.params.layout.has(p.name));
    const grads = g.grad(loss, trainable.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss };
    trainable.forEach((p, i) => (outputs[`grad:${p.name}`] = grads[i]));
    this.bn = [...o.bnStats, ...headStats];
    Object.assign(outputs, bnOutputs(this.bn));
    this.session = await createSession(toBytes(g, outputs).bytes, session);

    // parameters fed as views over the flat store and gradients written straight into `grads` (no copies per step)
    this.feeds = networkFeeds(this.session.inputNames, this.student);
    this.fetches = { loss: null, ...gradientFetches(this.grads, trainable), ...bnFetches(this.bn) };
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
    dropPathMasks(this.model, this.ctx.cfg.drop_path_rate, VIEWS * N, rng).forEach(
      (m, i) => (feeds[`drop_path.${i}`] = floatTensor(m, [VIEWS, N])),
    );
    const out = await this.session.run(feeds, this.fetches as never);
    this.lastStats = readBnStats(out, this.bn);
    return { loss: scalarOf(out.loss), parts: {} };
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
  }
}
