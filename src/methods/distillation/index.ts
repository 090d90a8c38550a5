// Knowledge distillation: the method's definition — settings, preset, optimizer, export. Global and dense losses as
// LightlyTrain's distillation (v3, its default) describes them: a queue of teacher embeddings as a pseudo classifier
// for the global features, patch-to-patch similarity distributions for the dense ones, one mixed view per image.
import { z } from 'zod';
import type { OptimDefaults } from '../../config/optim.js';
import { IMAGENET_NORMALIZE } from '../../config/transforms.js';
import { modelOverrides } from '../../models/overrides.js';
import { getModel } from '../../models/registry.js';
import { UserError } from '../../util/errors.js';
import { defineMethod, type MethodDefinition, type RunSize } from '../definition.js';
import { Distillation } from './distillation.js';
import { readTeacherFile } from './teacher-file.js';
import { teacherSpec } from './teacher-spec.js';

const posInt = z.number().int().positive();
const rgb = z.tuple([z.number(), z.number(), z.number()]);

export const distillationArgs = z
  .object({
    /** the teacher: an ONNX model, or a safetensors state dict with teacher_model (also --teacher / --teacher-model) */
    teacher: z.string().min(1).optional(),
    teacher_model: z.string().min(1).optional(),
    /** a safetensors teacher's architecture overrides, as model_args (LayerScale and registers are read from the file) */
    teacher_model_args: z.object({ embed_dim: posInt.optional(), depth: posInt.optional(), num_heads: posInt.optional(), width: posInt.optional() }).strict().default({}),
    /** which teacher outputs hold the global embedding [N, D] and the patch features [N, T, D] / [N, D, h, w] */
    teacher_outputs: z.object({ global: z.string().min(1).optional(), dense: z.string().min(1).optional() }).strict().default({}),
    teacher_image_size: z.union([z.literal('auto'), posInt]).default('auto'),
    teacher_mean: z.union([z.literal('auto'), rgb]).default('auto'),
    teacher_std: z.union([z.literal('auto'), rgb]).default('auto'),
    /** the teacher file's SHA-256: 'auto' records it; a resumed run refuses a teacher with another */
    teacher_sha256: z.union([z.literal('auto'), z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')]).default('auto'),
    /** global: the embeddings; dense: the patch features; both (the default): their sum */
    variant: z.enum(['global', 'dense', 'both']).default('both'),
    /** teacher embeddings the global loss scores against; 'auto': about a quarter of the dataset, 16 to 8192 */
    queue_size: z.union([z.literal('auto'), posInt]).default('auto'),
    temperature_global: z.number().positive().default(0.07),
    temperature_dense: z.number().positive().default(0.07),
    dense_weight: z.number().min(0).default(1),
    mixup: z.boolean().default(true),
  })
  .strict();
export type DistillationArgs = z.infer<typeof distillationArgs>;

/** A power of two near a quarter of the images, between 16 and 8192: the queue holds images from several steps back but not the same image twice. */
export function autoQueueSize(images: number): number {
  const quarter = Math.max(1, Math.floor(images / 4));
  return Math.min(8192, Math.max(16, 2 ** Math.floor(Math.log2(quarter))));
}

// LARS (trust coefficient 0.001, momentum 0.9, weight decay 1e-6) at lr 1.8 for a batch of 1536, scaled by the
// square root of the batch (0.37 at 64), gradients clipped at norm 1: LightlyTrain's distillation default. Its
// layer-wise trust ratio sizes each step against the layer's weights, so one setting serves ResNets and ViTs and any
// batch. On Fashion-MNIST it beat AdamW at LightlyTrain's AdamW lr (5e-4 at 1536, 1.0e-4 at 64) by 1.6 points of kNN
// (docs/quality.md).
const OPTIM: OptimDefaults = {
  name: 'lars', lr: 1.8, lr_scaling: 'sqrt', reference_batch_size: 1536, min_lr: 1e-6, warmup_steps: -1,
  weight_decay: 1e-6, weight_decay_end: 1e-6, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 1,
};

export const distillation: MethodDefinition = defineMethod<DistillationArgs>({
  name: 'distillation',
  description: 'knowledge distillation: a student learns a frozen teacher\'s global and patch features (--teacher MODEL.onnx)',
  args: distillationArgs,
  defaultModel: 'resnet18',
  // One view seen by teacher and student alike, so the augmentations only need to vary the images, not to make two
  // views disagree: crops of 14-100 % of the image, half-strength colour jitter, no blur or solarisation.
  transforms: {
    global: { size: 224, count: 1, scale: [0.14, 1], ratio: [3 / 4, 4 / 3] },
    local: { size: 96, count: 0, scale: [0.05, 0.14], ratio: [3 / 4, 4 / 3] },
    flip_p: 0.5,
    jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscale_p: 0.2,
    blur: { sigma: [0.1, 2], p_global: [0], p_local: 0, kernel_size: 0 },
    solarize: { p_global: [0], p_local: 0, threshold: 0.5 },
    normalize: IMAGENET_NORMALIZE,
  },
  optim: OPTIM,
  exportPart: 'student',
  parts: ['student'],
  inputs: (args) => ({ '--teacher': args.teacher }),
  fixedOnResume: ['teacher_sha256'],
  model: (cfg) => getModel(cfg.model, modelOverrides(cfg.model_args)),
  check(cfg) {
    const t = cfg.transforms;
    if (t.global.count !== 1 || t.local.count !== 0) {
      throw new UserError(
        `distillation trains on one view of each image: set transforms.global.count to 1 and transforms.local.count to 0 ` +
          `(got ${t.global.count} global and ${t.local.count} local crops)`,
      );
    }
    const args = cfg.method_args as unknown as DistillationArgs;
    teacherSpec(args, t.global.size);
  },
  resolve(args: DistillationArgs, run: RunSize, cfg) {
    const spec = teacherSpec(args, cfg.transforms.global.size);
    const sha256 = readTeacherFile(args.teacher!).sha256;
    if (args.teacher_sha256 !== 'auto' && args.teacher_sha256 !== sha256) {
      throw new UserError(`--teacher ${args.teacher}: its SHA-256 is ${sha256}, but method_args.teacher_sha256 is ${args.teacher_sha256}`);
    }
    return {
      ...args,
      teacher_outputs: { global: spec.global?.name, dense: spec.dense?.name },
      teacher_image_size: spec.size[0] === spec.size[1] ? spec.size[0] : args.teacher_image_size,
      teacher_mean: spec.mean,
      teacher_std: spec.std,
      teacher_sha256: sha256,
      queue_size: args.queue_size === 'auto' ? autoQueueSize(run.images) : args.queue_size,
    };
  },
  create: (ctx) => new Distillation(ctx, distillation.model(ctx.cfg)),
});
