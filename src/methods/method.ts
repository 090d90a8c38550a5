// What a method is while it trains. The trainer drives it and never names a method: a method owns its graphs,
// sessions, teacher and loss state (centers); the trainer owns the optimizer, schedules, checkpoints and logging.
import type { PretrainConfig } from '../config/schema.js';
import type { Batch } from '../data/loader.js';
import type { Communicator } from '../distributed/communicator.js';
import type { FlatTensors, ParamStore } from '../engine/param-store.js';
import type { SessionOptions } from '../engine/session.js';
import type { BackboneModel } from '../models/registry.js';
import type { BackbonePart, BackboneWeights, SerializedTensor } from '../models/weights.js';

/** What a method is built from: the resolved config (no 'auto' left in it), ORT options and the job's ranks. */
export interface MethodContext {
  cfg: PretrainConfig;
  session: SessionOptions;
  /** the processes of a data-parallel job; batch-wide statistics are reduced over it */
  comm: Communicator;
}

/** Per-step values of the schedules. */
export interface StepScalars {
  step: number;
  totalSteps: number;
  lr: number;
  weightDecay: number;
  /** the method's own schedules (teacher momentum, teacher temperature), logged under these names */
  method: Readonly<Record<string, number>>;
}

export interface StepResult {
  loss: number;
  /** named loss parts (e.g. dino_global, dino_local, ibot, koleo) */
  parts: Record<string, number>;
  /** milliseconds of the step's phases the method times itself (e.g. teacher_ms, student_ms), logged as they are */
  times?: Record<string, number>;
}

export interface TrainingMethod {
  /** the backbone architecture (with the config's model_args applied) */
  readonly model: BackboneModel;
  /** the parameters the optimizer updates (student backbone and heads) */
  readonly params: ParamStore;
  /** gradients of the last forwardBackward, same layout as params */
  readonly grads: FlatTensors;
  /** builds the graphs and their ONNX Runtime sessions (the constructor only lays out the networks) */
  init(): Promise<void>;
  /** what the method assumed or decided while it was built (e.g. a teacher's input size), logged when the run starts */
  readonly notes?: readonly string[];
  /** names of parameters whose gradients are dropped at `step` (e.g. DINO's last layer early on) */
  frozenAt(step: number): readonly string[];
  /** runs the loss and writes every gradient into `grads` */
  forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult>;
  /** after the optimizer step: EMA teacher, centering state, BatchNorm running statistics */
  afterStep(s: StepScalars): void;
  /**
   * every tensor a checkpoint holds (student, teacher, buffers, method state such as centers), by name, as views of
   * the live values: restoreState() writes into them
   */
  stateTensors(): Map<string, SerializedTensor>;
  /**
   * starts every backbone network (student and, where there is one, teacher) from these tensors: timm/torchvision
   * backbone names, every backbone tensor present with its spec shape (applyInitWeights checks that first)
   */
  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void;
  /** the backbone weights of one network */
  backbone(part: BackbonePart): BackboneWeights;
  release(): Promise<void>;
}
