// What the teacher-student methods (DINO, DINOv2) share: a student trained by the optimizer and a teacher that follows
// it as an exponential moving average, each with its own ONNX Runtime session (the student's computes the loss and
// every gradient, the teacher's the targets), the centers of the teacher's outputs, and the teacher as the network
// exported by default. A method brings its graphs, its losses and what it does after a step.
import type * as ort from 'onnxruntime-node';
import type { Batch } from '../../data/loader.js';
import { emaUpdate } from '../../engine/ema.js';
import { type Network, trainingNetworks } from '../../engine/network.js';
import type { FlatTensors } from '../../engine/param-store.js';
import { createSession, type Feeds } from '../../engine/session.js';
import type { ParamSpec } from '../../models/params.js';
import type { BackboneModel } from '../../models/registry.js';
import type { BackbonePart, BackboneWeights, SerializedTensor } from '../../models/weights.js';
import { Rng } from '../../util/rng.js';
import { backboneWeights, gradientFetches, loadBackboneInto, networkFeeds } from '../graph-io.js';
import type { MethodContext, StepResult, StepScalars, TrainingMethod } from '../method.js';
import type { Center } from './center.js';

export abstract class TeacherStudent implements TrainingMethod {
  readonly student: Network;
  readonly teacher: Network;
  readonly grads: FlatTensors;
  protected trainSession?: ort.InferenceSession;
  protected teacherSession?: ort.InferenceSession;
  /** the networks' parameters and buffers as views: each step feeds the current values without copying */
  protected studentFeeds: Feeds = {};
  protected teacherFeeds: Feeds = {};
  /** `grad:<name>` outputs that ORT writes straight into `grads` */
  protected gradFetches: Feeds = {};

  constructor(
    protected readonly ctx: MethodContext,
    readonly model: BackboneModel,
    specs: readonly ParamSpec[],
    lrScale?: (p: ParamSpec) => number,
  ) {
    const nets = trainingNetworks(specs, new Rng(ctx.cfg.seed).fork(0x5eed), { teacher: true, lrScale });
    this.student = nets.student;
    this.teacher = nets.teacher!;
    this.grads = nets.grads;
  }

  get params() {
    return this.student.params;
  }

  /** the method's centers, saved in its checkpoints */
  protected abstract centers(): readonly Center[];

  abstract init(): Promise<void>;
  abstract frozenAt(step: number): readonly string[];
  abstract forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult>;
  abstract afterStep(s: StepScalars): void;

  /** Opens both sessions from their serialised graphs, with feeds and gradient fetches over the networks' memory. */
  protected async openSessions(studentGraph: Uint8Array, teacherGraph: Uint8Array): Promise<void> {
    this.trainSession = await createSession(studentGraph, this.ctx.session);
    this.teacherSession = await createSession(teacherGraph, this.ctx.session);
    this.studentFeeds = networkFeeds(this.trainSession.inputNames, this.student);
    this.teacherFeeds = networkFeeds(this.teacherSession.inputNames, this.teacher);
    const graded = new Set(this.trainSession.outputNames.filter((n) => n.startsWith('grad:')).map((n) => n.slice(5)));
    this.gradFetches = gradientFetches(this.grads, this.grads.layout.names.filter((n) => graded.has(n)).map((name) => ({ name })));
  }

  /** teacher = momentum·teacher + (1 − momentum)·student, after the optimizer step */
  protected updateTeacher(momentum: number): void {
    emaUpdate(this.teacher.params.flat, this.student.params.flat, momentum);
  }

  stateTensors(): Map<string, SerializedTensor> {
    return new Map([...this.student.tensors('student.'), ...this.teacher.tensors('teacher.'), ...this.centers().map((c) => c.tensor())]);
  }

  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void {
    loadBackboneInto([this.student, this.teacher], tensors);
  }

  backbone(part: BackbonePart): BackboneWeights {
    return backboneWeights(this.model, part === 'teacher' ? this.teacher : this.student);
  }

  async release(): Promise<void> {
    await this.trainSession?.release();
    await this.teacherSession?.release();
  }
}
