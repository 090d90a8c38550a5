// What embed needs to know about a backbone.onnx: preprocessing (size, mean, std) from its
// metadata_props (or user overrides for models dinotrain did not export), and its I/O contract.
import type { InferenceSession } from 'onnxruntime-node';
import { UserError } from '../util/errors.js';

export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'embedding';
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export type Rgb = [number, number, number];

export interface BackboneOverrides {
  imageSize?: number;
  mean?: number[];
  std?: number[];
}

export interface BackboneInfo {
  /** Set when the model carries dinotrain metadata. */
  dinotrainVersion?: string;
  method?: string;
  model?: string;
  patchSize?: number;
  height: number;
  width: number;
  mean: Rgb;
  std: Rgb;
  /** Embedding width when the model's output shape fixes it. */
  embedDim?: number;
  /** Set when the model's batch dimension is a fixed number instead of symbolic. */
  fixedBatch?: number;
  /** Defaults that were assumed (shown to the user). */
  notes: string[];
  metadata: Record<string, string>;
}

type IoMeta = InferenceSession.ValueMetadata;

function shapeOf(meta: IoMeta | undefined): ReadonlyArray<number | string> | undefined {
  return meta && meta.isTensor ? meta.shape : undefined;
}

const fixed = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

function parseRgb(raw: unknown, what: string, source: string): Rgb {
  let v = raw;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new UserError(`${source}: ${what} must be a JSON array of 3 numbers, got '${raw}'`);
    }
  }
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new UserError(`${source}: ${what} must be 3 finite numbers, got ${JSON.stringify(raw)}`);
  }
  return [v[0], v[1], v[2]];
}

function parseImageSize(raw: string, source: string): [number, number] {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (typeof v === 'number') v = [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0)) return [v[0], v[1]];
  throw new UserError(`${source}: image_size must be a positive integer or [height, width], got '${raw}'`);
}

/**
 * Checks the I/O contract and works out preprocessing. Order of precedence: overrides, then
 * dinotrain metadata, then fixed input dimensions (foreign models), then ImageNet mean/std.
 */
export function resolveBackboneInfo(
  modelLabel: string,
  metadata: Record<string, string>,
  inputs: readonly IoMeta[],
  outputs: readonly IoMeta[],
  overrides: BackboneOverrides = {},
): BackboneInfo {
  const input = inputs.find((m) => m.name === INPUT_NAME);
  const output = outputs.find((m) => m.name === OUTPUT_NAME);
  if (!input || !output) {
    const missing = [!input && `an '${INPUT_NAME}' input`, !output && `an '${OUTPUT_NAME}' output`].filter(Boolean).join(' and ');
    throw new UserError(
      `not a dinotrain backbone: ${modelLabel} has no ${missing} ` +
        `(inputs: ${inputs.map((m) => m.name).join(', ') || 'none'}; outputs: ${outputs.map((m) => m.name).join(', ') || 'none'})`,
    );
  }
  const inShape = shapeOf(input);
  if (inShape && inShape.length > 0) {
    if (inShape.length !== 4 || (fixed(inShape[1]) !== undefined && inShape[1] !== 3)) {
      throw new UserError(`not a dinotrain backbone: ${modelLabel}: input '${INPUT_NAME}' must be [N,3,H,W], has shape [${inShape.join(',')}]`);
    }
  }
  const isDinotrain = metadata.dinotrain_version !== undefined;
  const notes: string[] = [];
  const fixedH = fixed(inShape?.[2]);
  const fixedW = fixed(inShape?.[3]);

  let height: number;
  let width: number;
  if (overrides.imageSize !== undefined) {
    if (!Number.isInteger(overrides.imageSize) || overrides.imageSize <= 0) {
      throw new UserError(`--image-size must be a positive integer, got ${overrides.imageSize}`);
    }
    height = width = overrides.imageSize;
  } else if (metadata.image_size !== undefined) {
    [height, width] = parseImageSize(metadata.image_size, `${modelLabel} metadata`);
  } else if (fixedH && fixedW) {
    [height, width] = [fixedH, fixedW];
    notes.push(`image size ${height}x${width} taken from the model's input shape`);
  } else if (!isDinotrain) {
    throw new UserError(
      `not a dinotrain backbone: ${modelLabel} has no dinotrain metadata (dinotrain_version, image_size, mean, std); ` +
        'pass --image-size (and --mean/--std) to embed with a foreign model',
    );
  } else {
    throw new UserError(`${modelLabel}: dinotrain metadata lacks image_size; pass --image-size`);
  }
  if ((fixedH && fixedH !== height) || (fixedW && fixedW !== width)) {
    throw new UserError(`${modelLabel}: the model's input is fixed at ${fixedH}x${fixedW}, but image size ${height}x${width} was requested`);
  }

  const pick = (key: 'mean' | 'std', override: number[] | undefined, fallback: Rgb): Rgb => {
    if (override !== undefined) return parseRgb(override, key, `--${key}`);
    if (metadata[key] !== undefined) return parseRgb(metadata[key], key, `${modelLabel} metadata`);
    notes.push(`no ${key} in the model: using ImageNet ${key} [${fallback.join(', ')}]`);
    return fallback;
  };
  const mean = pick('mean', overrides.mean, IMAGENET_MEAN);
  const std = pick('std', overrides.std, IMAGENET_STD);
  if (std.some((s) => s <= 0)) throw new UserError(`std must be positive, got [${std.join(', ')}]`);

  const outShape = shapeOf(output);
  const patch = metadata.patch_size !== undefined ? Number(metadata.patch_size) : undefined;
  return {
    dinotrainVersion: metadata.dinotrain_version,
    method: metadata.method,
    model: metadata.model,
    patchSize: patch !== undefined && Number.isFinite(patch) ? patch : undefined,
    height,
    width,
    mean,
    std,
    embedDim: outShape && outShape.length === 2 ? fixed(outShape[1]) : undefined,
    fixedBatch: fixed(inShape?.[0]),
    notes,
    metadata,
  };
}
