// The `transforms` section of the pretrain config: multi-crop views and their augmentations.
// Keys are snake_case like LightlyTrain's. The lead's config loader deep-merges a user's overrides
// onto `transformPresets[method]` and validates the result with `transformsSchema`.
import { z } from 'zod';
import { UserError } from '../util/errors.js';

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

const dino: TransformsConfig = {
  global: { size: 224, count: 2, scale: [0.14, 1], ratio: [3 / 4, 4 / 3] },
  local: { size: 96, count: 6, scale: [0.05, 0.14], ratio: [3 / 4, 4 / 3] },
  flip_p: 0.5,
  jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
  grayscale_p: 0.2,
  blur: { sigma: [0.1, 2], p_global: [1.0, 0.1], p_local: 0.5, kernel_size: 0 },
  solarize: { p_global: [0, 0.2], p_local: 0, threshold: 0.5 },
  normalize: IMAGENET_NORMALIZE,
};

const dinov2: TransformsConfig = {
  ...dino,
  global: { size: 224, count: 2, scale: [0.32, 1], ratio: [3 / 4, 4 / 3] },
  local: { size: 98, count: 8, scale: [0.05, 0.32], ratio: [3 / 4, 4 / 3] },
};

const simclr: TransformsConfig = {
  global: { size: 224, count: 2, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
  local: { size: 96, count: 0, scale: [0.05, 0.14], ratio: [3 / 4, 4 / 3] },
  flip_p: 0.5,
  jitter: { p: 0.8, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2 },
  grayscale_p: 0.2,
  blur: { sigma: [0.1, 2], p_global: [0.5, 0.5], p_local: 0.5, kernel_size: 0 },
  solarize: { p_global: [0, 0], p_local: 0, threshold: 0.5 },
  normalize: IMAGENET_NORMALIZE,
};

export type TransformPresetName = 'dino' | 'dinov2' | 'simclr';

/** Defaults per method, as LightlyTrain's. Treat as read-only: deepMerge copies. */
export const transformPresets: Record<TransformPresetName, TransformsConfig> = { dino, dinov2, simclr };

/** A user's partial override of a section (any depth; arrays replace whole). */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns a new object: `override`'s values over `base`'s, recursing into plain objects.
 * Arrays and scalars replace; `undefined` in the override keeps the base value. Inputs are not modified.
 */
export function deepMerge<T>(base: T, override: unknown): T {
  if (override === undefined) return structuredClone(base);
  if (!isPlainObject(base) || !isPlainObject(override)) return structuredClone(override) as T;
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    out[key] = key in out ? deepMerge(out[key], value) : structuredClone(value);
  }
  return out as T;
}

/** The preset of `method` with `override` merged on top, validated; a UserError naming the bad keys otherwise. */
export function resolveTransforms(method: TransformPresetName, override?: unknown): TransformsConfig {
  const result = transformsSchema.safeParse(deepMerge(transformPresets[method], override));
  if (!result.success) {
    throw new UserError(`Invalid transforms config:\n${z.prettifyError(result.error).replace(/→ at /g, '→ at transforms.')}`);
  }
  return result.data;
}
