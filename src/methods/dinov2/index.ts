// DINOv2 (Oquab et al. 2023): the method's definition — settings, preset, optimizer, iBOT masks, schedules, export.
import { z } from 'zod';
import type { PretrainConfig } from '../../config/schema.js';
import { modelOverrides } from '../../models/overrides.js';
import { getModel, type BackboneModel } from '../../models/registry.js';
import { UserError } from '../../util/errors.js';
import { DINO_TRANSFORMS } from '../dino/transforms.js';
import { defineMethod, type MethodDefinition } from '../definition.js';
import { prototypes, resolvePrototypes, resolveTeacherArgs, teacherArgsShape } from '../teacher/args.js';
import { teacherSchedules } from '../teacher/schedules.js';
import { Dinov2 } from './dinov2.js';

const prob = z.number().min(0).max(1);

export const dinov2Args = z
  .object({
    ...teacherArgsShape(0.992),
    ibot_separate_head: z.boolean().default(false),
    ibot_output_dim: prototypes.default('auto'),
    centering: z.enum(['softmax', 'sinkhorn_knopp']).default('softmax'),
    dino_loss_weight: z.number().min(0).default(1.0),
    ibot_loss_weight: z.number().min(0).default(1.0),
    koleo_loss_weight: z.number().min(0).default(0.1),
    /** Range of the masked fraction of patches, spread over the masked global crops. */
    mask_ratio: z
      .tuple([prob, prob])
      .refine(([lo, hi]) => lo <= hi, 'the first value (smallest ratio) must not exceed the second')
      .default([0.1, 0.5]),
    /** Fraction of the global crops that get a mask. */
    mask_probability: prob.default(0.5),
    layerwise_decay: z.number().min(0).max(1).default(0.9),
    patch_embed_lr_multiplier: z.number().min(0).default(0.2),
  })
  .strict();
export type Dinov2Args = z.infer<typeof dinov2Args>;

/** LayerScale's initial value in the DINOv2 reference (layerscale: 1e-5), and in timm's *_dinov2 models. */
export const DINOV2_LAYER_SCALE = 1e-5;

/**
 * The backbone DINOv2 trains: the config's model with a mask token and LayerScale (model_args.layer_scale, default
 * 1e-5), as the reference's ViTs, so exports load into timm's *_dinov2 models; anything but a ViT is a UserError.
 */
function dinov2Model(cfg: PretrainConfig): BackboneModel {
  const args = { ...cfg.model_args, layer_scale: cfg.model_args.layer_scale ?? DINOV2_LAYER_SCALE };
  const model = getModel(cfg.model, modelOverrides(args, { maskToken: true }));
  if (model.kind !== 'vit' || !model.patchSize) {
    throw new UserError(
      `DINOv2 needs a Vision Transformer: its iBOT loss replaces masked patch tokens with a mask token, and ${model.name} ` +
        `has no patch tokens. Use a ViT (e.g. --model vit-small/14), or --method dino for a ${model.name}.`,
    );
  }
  return model;
}

export const dinov2: MethodDefinition = defineMethod<Dinov2Args>({
  name: 'dinov2',
  description: 'DINOv2 (Oquab et al. 2023): DINO plus the iBOT masked-patch loss and the KoLeo regulariser, on a ViT',
  args: dinov2Args,
  defaultModel: 'vit-small/14',
  transforms: {
    ...DINO_TRANSFORMS,
    global: { size: 224, count: 2, scale: [0.32, 1], ratio: [3 / 4, 4 / 3] },
    local: { size: 98, count: 8, scale: [0.05, 0.32], ratio: [3 / 4, 4 / 3] },
  },
  optim: {
    name: 'adamw', lr: 0.004, lr_scaling: 'sqrt', reference_batch_size: 1024, min_lr: 1e-6, warmup_steps: -1,
    weight_decay: 0.04, weight_decay_end: 0.4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 3.0,
  },
  settings: { drop_path_rate: 0.1 },
  exportPart: 'teacher',
  parts: ['student', 'teacher'],
  model: dinov2Model,
  check(cfg) {
    const { global, local } = cfg.transforms;
    if (global.count < 1 || global.count + local.count < 2) {
      throw new UserError(`DINOv2 needs at least one global crop and two crops in all (got ${global.count} global, ${local.count} local)`);
    }
  },
  resolve: (a, run) => ({ ...resolveTeacherArgs(a, run), ibot_output_dim: resolvePrototypes(a.ibot_output_dim, run.images) }),
  loader: (cfg, model) => {
    const a = cfg.method_args as Dinov2Args;
    return { masks: { patchSize: model.patchSize!, ratio: a.mask_ratio, probability: a.mask_probability } };
  },
  schedules: teacherSchedules,
  create: (ctx) => new Dinov2(ctx, dinov2.model(ctx.cfg)),
});
