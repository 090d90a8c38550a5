// The `transforms` section of the pretrain config: multi-crop views and their augmentations. Keys are snake_case
// like LightlyTrain's. Each method brings its preset (MethodDefinition.transforms); a config's `transforms` keys
// are deep-merged over it and the result validated with `transformsSchema`.
import { z } from 'zod';
import { UserError } from '../util/errors.js';
import { deepMerge } from './merge.js';

const probability = z.number().min(0).max(1);

/** [lo, hi] with lo <= hi, both inside [min, max] (min exclusive when `minExclusive`). */
function range(min: number, max: number, minExclusive = false) {
  const bound = minExclusive ? z.number().gt(min).max(max) : z.number().min(min).max(max);
  return z
    .tuple([bound, bound])
    .refine(([lo, hi]) => lo <= hi, { message: 'lower bound must be <= upper bound' });
}

const cropSchema = (minCount: number) =>
  z
    .object({
      /** Output side in pixels (square views). */
      size: z.number().int().positive(),
      count: z.number().int().min(minCount),
      /** Fraction of the image area a crop covers, drawn uniformly (torchvision RandomResizedCrop). */
      scale: range(0, 1, true),
      /** Crop aspect ratio w/h, drawn log-uniformly. */
      ratio: range(0, Number.POSITIVE_INFINITY, true),
    })
    .strict();

export const transformsSchema = z
  .object({
    global: cropSchema(1),
    local: cropSchema(0),
    flip_p: probability,
    jitter: z
      .object({
        p: probability,
        brightness: z.number().min(0),
        contrast: z.number().min(0),
        saturation: z.number().min(0),
        hue: z.number().min(0).max(0.5),
      })
      .strict(),
    grayscale_p: probability,
    blur: z
      .object({
        sigma: range(0, Number.POSITIVE_INFINITY, true),
        /** One probability per global view (view 1, view 2, ...). */
        p_global: z.array(probability).min(1),
        p_local: probability,
        /** Odd kernel side; 0 derives it from sigma as 2*floor(3.5*sigma)+1 (PIL-like, as albumentations). */
        kernel_size: z
          .number()
          .int()
          .min(0)
          .refine((k) => k === 0 || k % 2 === 1, { message: 'must be 0 (from sigma) or odd' }),
      })
      .strict(),
    solarize: z
      .object({
        p_global: z.array(probability).min(1),
        p_local: probability,
        /** Pixels (in [0, 1]) at or above it are inverted. */
        threshold: z.number().min(0).max(1),
      })
      .strict(),
    normalize: z
      .object({
        mean: z.tuple([z.number(), z.number(), z.number()]),
        std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
      })
      .strict(),
  })
  .strict()
  .superRefine((t, ctx) => {
    for (const key of ['blur', 'solarize'] as const) {
      const n = t[key].p_global.length;
      if (n !== t.global.count) {
        ctx.addIssue({
          code: 'custom',
          path: [key, 'p_global'],
          message: `has ${n} entries but global.count is ${t.global.count} (one probability per global view)`,
        });
      }
    }
  });

export type TransformsConfig = z.infer<typeof transformsSchema>;

export const IMAGENET_NORMALIZE = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
};

/** `preset` with `override` merged on top, validated; a UserError naming the bad keys otherwise. */
export function resolveTransforms(preset: TransformsConfig, override?: unknown): TransformsConfig {
  const result = transformsSchema.safeParse(deepMerge(preset, override));
  if (!result.success) {
    throw new UserError(`Invalid transforms config:\n${z.prettifyError(result.error).replace(/→ at /g, '→ at transforms.')}`);
  }
  return result.data;
}
