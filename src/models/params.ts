// Parameter specs: every tensor a model owns, named and shaped as timm / torchvision name them, with how to
// initialise it and how the optimizer treats it. Values live outside the graph as Float32Arrays.

import { Rng } from '../util/rng.js';
import { numel } from '../util/shape.js';

/** How a tensor is initialised (all PyTorch conventions; `fan` counts are for PyTorch layouts). */
export type InitKind =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  /** N(0, std²) redrawn outside [a, b] (absolute bounds, as timm's trunc_normal_ with its defaults a=-2, b=2). */
  | { kind: 'trunc_normal'; std: number; a?: number; b?: number }
  | { kind: 'normal'; std: number }
  /** U(-bound, bound); PyTorch's default Linear/Conv init is bound = 1/sqrt(fan_in). */
  | { kind: 'uniform'; bound: number }
  /** kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2/fan_out), as torchvision's ResNet convs. */
  | { kind: 'kaiming_normal_fan_out'; fanOut: number };

/**
 * Which layer a tensor belongs to for layer-wise learning-rate decay: scale = decay^(numLayers - layer).
 * ViT: numLayers = depth + 1; tokens/pos/patch embed are layer 0, block i is i + 1, the final norm is depth + 1.
 * Heads use layer = numLayers = 0 (scale 1).
 */
export interface LrGroup {
  group: 'patch_embed' | 'embed' | 'block' | 'norm' | 'stem' | 'stage' | 'head';
  layer: number;
  numLayers: number;
}

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** false for biases, norm weights, LayerScale gammas, tokens and position embeddings */
  weightDecay: boolean;
  /** false for buffers (BatchNorm running stats, the fixed weight-norm gain): stored and exported, never optimised */
  trainable: boolean;
  /** the PyTorch dtype to export (num_batches_tracked is int64); values are always held as Float32Array */
  dtype: 'float32' | 'int64';
  lr: LrGroup;
}

export type ParamValues = Map<string, Float32Array>;

/** Learning-rate multiplier of layer-wise decay (DINOv2's get_vit_lr_decay_rate). */
export const layerDecayScale = (p: ParamSpec, decay: number): number => decay ** (p.lr.numLayers - p.lr.layer);

function sampleTruncNormal(rng: Rng, std: number, a: number, b: number): number {
  for (;;) {
    const v = rng.normal() * std;
    if (v >= a && v <= b) return v;
  }
}

/** Fills one tensor; exported for tests and for re-initialising a head. */
export function initTensor(init: InitKind, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(init.value);
      break;
    case 'trunc_normal': {
      const a = init.a ?? -2, b = init.b ?? 2;
      for (let i = 0; i < n; i++) out[i] = sampleTruncNormal(rng, init.std, a, b);
      break;
    }
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = rng.normal() * init.std;
      break;
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-init.bound, init.bound);
      break;
    case 'kaiming_normal_fan_out': {
      const std = Math.sqrt(2 / init.fanOut);
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      break;
    }
  }
  return out;
}

/**
 * Seeded initial values for every tensor of a spec. Each tensor draws from its own stream forked by its position,
 * so adding an optional tensor (e.g. registers) leaves the others' values unchanged only if it is appended last.
 */
export function initParams(spec: readonly ParamSpec[], rng: Rng): ParamValues {
  const values: ParamValues = new Map();
  spec.forEach((p, i) => {
    if (values.has(p.name)) throw new Error(`duplicate parameter name ${p.name}`);
    values.set(p.name, initTensor(p.init, numel(p.shape), rng.fork(i)));
  });
  return values;
}

/** Small constructors used by the model specs. */
export const spec = {
  /** Linear weight [out, in] (timm/DINO: trunc_normal std 0.02) and bias [out] (zeros). */
  linear(name: string, inF: number, outF: number, lr: LrGroup, opts: { bias?: boolean; init?: InitKind; biasInit?: InitKind } = {}): ParamSpec[] {
    const out: ParamSpec[] = [param(`${name}.weight`, [outF, inF], opts.init ?? { kind: 'trunc_normal', std: 0.02 }, true, lr)];
    if (opts.bias ?? true) out.push(param(`${name}.bias`, [outF], opts.biasInit ?? { kind: 'zeros' }, false, lr));
    return out;
  },
  /** LayerNorm weight/bias (ones/zeros, no weight decay). */
  layerNorm(name: string, dim: number, lr: LrGroup): ParamSpec[] {
    return [param(`${name}.weight`, [dim], { kind: 'ones' }, false, lr), param(`${name}.bias`, [dim], { kind: 'zeros' }, false, lr)];
  },
  /** BatchNorm affine params plus running_mean/var and num_batches_tracked buffers, as torch names them. */
  batchNorm(name: string, ch: number, lr: LrGroup, weightInit: InitKind = { kind: 'ones' }): ParamSpec[] {
    return [
      param(`${name}.weight`, [ch], weightInit, false, lr),
      param(`${name}.bias`, [ch], { kind: 'zeros' }, false, lr),
      buffer(`${name}.running_mean`, [ch], { kind: 'zeros' }, lr),
      buffer(`${name}.running_var`, [ch], { kind: 'ones' }, lr),
      { ...buffer(`${name}.num_batches_tracked`, [], { kind: 'zeros' }, lr), dtype: 'int64' },
    ];
  },
};

export function param(name: string, shape: number[], init: InitKind, weightDecay: boolean, lr: LrGroup): ParamSpec {
  return { name, shape, init, weightDecay, trainable: true, dtype: 'float32', lr };
}

export function buffer(name: string, shape: number[], init: InitKind, lr: LrGroup): ParamSpec {
  return { name, shape, init, weightDecay: false, trainable: false, dtype: 'float32', lr };
}

/** Prefixes every name (e.g. 'dino_head.' or 'backbone.'). */
export const withPrefix = (prefix: string, specs: readonly ParamSpec[]): ParamSpec[] =>
  specs.map((p) => ({ ...p, name: prefix + p.name }));
