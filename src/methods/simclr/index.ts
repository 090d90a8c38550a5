// SimCLR (Chen et al. 2020): the method's definition — settings, preset, optimizer, export.
import { z } from 'zod';
import { IMAGENET_NORMALIZE } from '../../config/transforms.js';
import { modelOverrides } from '../../models/overrides.js';
import { getModel } from '../../models/registry.js';
import { UserError } from '../../util/errors.js';
import { defineMethod, type MethodDefinition } from '../definition.js';
import { SimClr, VIEWS } from './simclr.js';

const posInt = z.number().int().positive();

/** Projection head Linear-BN-ReLU-Linear (2048 hidden, 128 out), NT-Xent at τ = 0.1. */
export const simclrArgs = z
  .object({
    hidden_dim: posInt.default(2048),
    output_dim: posInt.default(128),
    temperature: z.number().positive().default(0.1),
  })
  .strict();
export type SimclrArgs = z.infer<typeof simclrArgs>;

export const simclr: MethodDefinition = defineMethod<SimclrArgs>({
  name: 'simclr',
  description: 'SimCLR (Chen et al. 2020): two views of each image pulled together against the rest of the batch',
  args: simclrArgs,
  defaultModel: 'resnet18',
  transforms: {
    global: { size: 224, count: VIEWS, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
    local: { size: 96, count: 0, scale: [0.05, 0.14], ratio: [3 / 4, 4 / 3] },
    flip_p: 0.5,
    jitter: { p: 0.8, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2 },
    grayscale_p: 0.2,
    blur: { sigma: [0.1, 2], p_global: [0.5, 0.5], p_local: 0.5, kernel_size: 0 },
    solarize: { p_global: [0, 0], p_local: 0, threshold: 0.5 },
    normalize: IMAGENET_NORMALIZE,
  },
  // Momentum SGD sized for the small batches dinotrain runs on: lr 0.1 x B/256, momentum 0.9, weight decay 5e-4 (BN
  // parameters and biases exempt through the specs' weightDecay flags), warmup then cosine to 0, no clipping. The
  // paper's 0.3 x B/256 with weight decay 1e-6 is tuned for LARS at batches in the thousands; measured on
  // Fashion-MNIST (docs/quality.md), that setting at batch 128 stalled (the stem's weight norm grew 7x in 50 steps,
  // shrinking the effective step), while this one kept improving kNN accuracy. optim.name: lars gives LARS (trust
  // coefficient 0.001); ViT backbones want AdamW (optim: {name: adamw}).
  optim: {
    name: 'sgd', lr: 0.1, lr_scaling: 'linear', reference_batch_size: 256, min_lr: 0, warmup_steps: -1,
    weight_decay: 5e-4, weight_decay_end: 5e-4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 0,
  },
  exportPart: 'student',
  parts: ['student'],
  model: (cfg) => getModel(cfg.model, modelOverrides(cfg.model_args)),
  check(cfg) {
    const t = cfg.transforms;
    if (t.global.count !== VIEWS || t.local.count !== 0) {
      throw new UserError(
        `SimCLR trains on exactly 2 views of each image: set transforms.global.count to 2 and transforms.local.count to 0 ` +
          `(got ${t.global.count} global and ${t.local.count} local crops)`,
      );
    }
  },
  create: (ctx) => new SimClr(ctx, simclr.model(ctx.cfg)),
});
