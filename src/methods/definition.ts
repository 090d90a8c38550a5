// Everything dinotrain knows about a method, in one object: its settings and their defaults, the preset it trains
// with, what it needs from the model and the loader, its schedules, which network it exports, and how to build it.
// The list of definitions (methods/index.ts) drives config validation, --help, preview, export, resume and training.
import type { z } from 'zod';
import type { OptimDefaults } from '../config/optim.js';
import type { PretrainConfig } from '../config/schema.js';
import type { TransformsConfig } from '../config/transforms.js';
import type { LoaderMaskOptions } from '../data/loader.js';
import type { BackboneModel } from '../models/registry.js';
import type { BackbonePart } from '../models/weights.js';
import type { MethodContext, TrainingMethod } from './method.js';

/** How long the run is, for settings resolved relative to it ('auto'). */
export interface RunSize {
  /** images in the data folder */
  images: number;
  batchSize: number;
  totalSteps: number;
}

export interface MethodDefinition<Args extends object = Record<string, unknown>> {
  /** `--method` value */
  readonly name: string;
  /** one line: the method and its paper */
  readonly description: string;
  /** `method_args`: every key with its default, strict (unknown keys are errors) */
  readonly args: z.ZodType<Args>;
  readonly defaultModel: string;
  /** the augmentation preset (`transforms`) */
  readonly transforms: TransformsConfig;
  /** optimizer defaults, with the rule that scales the learning rate with the batch size */
  readonly optim: OptimDefaults;
  /** other settings whose default is the method's own (e.g. DINOv2's drop_path_rate 0.1) */
  readonly settings?: Readonly<Partial<Record<'drop_path_rate', unknown>>>;
  /** the network `export` and pretrain's exports take by default */
  readonly exportPart: BackbonePart;
  /** the networks its checkpoints hold */
  readonly parts: readonly BackbonePart[];
  /** files the method reads, by the flag or setting that names them (e.g. distillation's --teacher): --out must not hold them */
  inputs?(args: Args): Record<string, string | undefined>;
  /** `method_args` keys a resumed run must keep as the checkpoint has them (e.g. the teacher file's hash) */
  readonly fixedOnResume?: readonly string[];
  /** the backbone it trains for this config (e.g. with a mask token); a UserError when it cannot train that model */
  model(cfg: PretrainConfig): BackboneModel;
  /** checks that need the method (view counts...): a UserError naming the setting */
  check?(cfg: PretrainConfig, model: BackboneModel): void;
  /** `method_args` with every 'auto' replaced by its value for this run (written to config.json) */
  resolve?(args: Args, run: RunSize, cfg: PretrainConfig): Args;
  /** what the loader produces besides the views (DINOv2: iBOT masks) */
  loader?(cfg: PretrainConfig, model: BackboneModel): { masks?: LoaderMaskOptions };
  /** the method's schedules: values per step, passed to it as StepScalars.method and logged under their names */
  schedules?(args: Args, totalSteps: number): (step: number) => Record<string, number>;
  /** the method for a resolved config; nothing heavy happens before init() */
  create(ctx: MethodContext): TrainingMethod;
}

/** Keeps a definition's argument type while the list holds them all as MethodDefinition. */
export const defineMethod = <Args extends object>(d: MethodDefinition<Args>): MethodDefinition => d as unknown as MethodDefinition;
