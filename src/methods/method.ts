// The interface every self-supervised method implements. The trainer drives it and never names a method:
// a method owns its graphs, sessions, teacher and loss state; the trainer owns the optimizer, schedules,
// checkpoints and logging.
import type { FlatTensors, ParamStore } from '../engine/param-store.js';
import type { Batch } from '../data/loader.js';
import type { BackboneModel } from '../models/registry.js';
import type { PretrainConfig } from '../config/schema.js';
import type { SessionOptions } from '../engine/session.js';

/** What a method is built from: the resolved config, the dataset size (for 'auto' settings) and ORT options. */
export interface MethodContext {
  cfg: PretrainConfig;
  datasetSize: number;
  session: SessionOptions;
  /** length of the run in optimizer steps (for settings relative to it) */
  totalSteps?: number;
}

/** Per-step values from the schedules. */
export interface StepScalars {
  step: number;
  totalSteps: number;
  lr: number;
  weightDecay: number;
  /** EMA momentum of the teacher (methods without a teacher ignore it) */
  momentum: number;
  teacherTemp: number;
}

export interface StepResult {
  loss: number;
  /** named loss parts (e.g. dino_global, dino_local, ibot, koleo) */
  parts: Record<string, number>;
}

export interface SerializedTensor {
  shape: readonly number[];
  data: Float32Array;
}

export interface BackboneWeights {
  model: string;
  /** timm / torchvision names, PyTorch layouts (buffers such as BatchNorm running stats included) */
  tensors: Map<string, SerializedTensor>;
}

export interface TrainingMethod {
  readonly name: string;
  /** the backbone architecture (with the config's model_args applied) */
  readonly model: BackboneModel;
  /** the parameters the optimizer updates (student backbone and heads) */
  readonly params: ParamStore;
  /** gradients of the last forwardBackward, same layout as params */
  readonly grads: FlatTensors;
  /** names of parameters whose gradients are zeroed at `step` (e.g. DINO's last layer early on) */
  frozenAt(step: number): readonly string[];
  /** runs the loss and writes every gradient into `grads` */
  forwardBackward(batch: Batch, s: StepScalars): Promise<StepResult>;
  /** after the optimizer step: EMA teacher, centering state, BatchNorm running statistics */
  afterStep(s: StepScalars): void;
  /** every model tensor for the checkpoint (student, teacher, buffers, method state such as centers), by name */
  stateTensors(): Map<string, SerializedTensor>;
  /** restores what stateTensors() saved */
  loadStateTensors(tensors: ReadonlyMap<string, SerializedTensor>): void;
  /**
   * starts every backbone network (student and, where there is one, teacher) from these tensors: timm/torchvision
   * backbone names, every backbone tensor present with its spec shape (applyInitWeights checks that first)
   */
  loadBackbone(tensors: ReadonlyMap<string, SerializedTensor>): void;
  /** the backbone to export: 'teacher' (DINO/DINOv2 default) or 'student' */
  backbone(part: 'student' | 'teacher'): BackboneWeights;
  readonly defaultExportPart: 'student' | 'teacher';
  release(): Promise<void>;
}
