// Head parameters. DINO head as dinov2/layers/dino_head.py names it (mlp.0 / mlp.2 / mlp.4 Linears with GELUs
// between, last_layer.weight_g / weight_v of torch's weight_norm), prefixed 'dino_head.' (or 'ibot_head.');
// SimCLR projection head Linear(no bias)-BatchNorm1d-ReLU-Linear as projection_head.0 / .1 / .3.

import { buffer, param, spec, withPrefix, type LrGroup, type ParamSpec } from './params.js';

export const HEAD_LR: LrGroup = { group: 'head', layer: 0, numLayers: 0 };

export interface DinoHeadConfig {
  inDim: number;
  /** number of prototypes K (DINO: 65536; small runs use less) */
  outDim: number;
  hiddenDim: number;
  bottleneckDim: number;
  /** Linear layers in the MLP (dinov2: 3) */
  nLayers: number;
}

export const dinoHeadConfig = (inDim: number, outDim: number, o: Partial<Omit<DinoHeadConfig, 'inDim' | 'outDim'>> = {}): DinoHeadConfig => ({
  inDim,
  outDim,
  hiddenDim: 2048,
  bottleneckDim: 256,
  nLayers: 3,
  ...o,
});

/** The MLP's Linear layers as [module name, in, out]: 'mlp' alone when nLayers is 1 (dinov2 returns a bare Linear). */
export function dinoHeadLinears(c: DinoHeadConfig): [string, number, number][] {
  if (c.nLayers < 1) throw new Error('DINO head needs at least one layer');
  if (c.nLayers === 1) return [['mlp', c.inDim, c.bottleneckDim]];
  const dims = [c.inDim, ...Array<number>(c.nLayers - 1).fill(c.hiddenDim), c.bottleneckDim];
  return dims.slice(1).map((d, i) => [`mlp.${2 * i}`, dims[i], d]);
}

/**
 * Linear weights trunc_normal(0.02), biases 0; last_layer.weight_v keeps nn.Linear's default U(±1/sqrt(in)) (it is
 * created after dino_head's init pass); weight_g is a buffer of ones (fixed at 1 as DINO's norm_last_layer).
 */
export function dinoHeadSpec(c: DinoHeadConfig, prefix = 'dino_head.'): ParamSpec[] {
  const out: ParamSpec[] = dinoHeadLinears(c).flatMap(([name, i, o]) => spec.linear(name, i, o, HEAD_LR));
  out.push(buffer('last_layer.weight_g', [c.outDim, 1], { kind: 'ones' }, HEAD_LR));
  out.push(param('last_layer.weight_v', [c.outDim, c.bottleneckDim], { kind: 'uniform', bound: 1 / Math.sqrt(c.bottleneckDim) }, true, HEAD_LR));
  return withPrefix(prefix, out);
}

export interface ProjectionHeadConfig {
  inDim: number;
  hiddenDim: number;
  outDim: number;
}

export const simclrHeadConfig = (inDim: number, o: Partial<Omit<ProjectionHeadConfig, 'inDim'>> = {}): ProjectionHeadConfig => ({
  inDim,
  hiddenDim: 2048,
  outDim: 128,
  ...o,
});

/** PyTorch's default Linear init (U(±1/sqrt(in)) for weight and bias), BatchNorm ones/zeros. */
export function simclrHeadSpec(c: ProjectionHeadConfig, prefix = 'projection_head.'): ParamSpec[] {
  const u = (fanIn: number) => ({ kind: 'uniform', bound: 1 / Math.sqrt(fanIn) }) as const;
  return withPrefix(prefix, [
    ...spec.linear('0', c.inDim, c.hiddenDim, HEAD_LR, { bias: false, init: u(c.inDim) }),
    ...spec.batchNorm('1', c.hiddenDim, HEAD_LR),
    ...spec.linear('3', c.hiddenDim, c.outDim, HEAD_LR, { init: u(c.hiddenDim), biasInit: u(c.hiddenDim) }),
  ]);
}
