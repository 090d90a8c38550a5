// ResNet configs and parameters with torchvision's names and order (v1.5: the stride sits on the 3x3 conv),
// backbone only (no fc). Init as torchvision: kaiming_normal(fan_out, relu) convs, BatchNorm weight 1 / bias 0,
// optionally the last BN of each residual branch zeroed (zero_init_residual).

import { UserError } from '../util/errors.js';
import { param, spec, type LrGroup, type ParamSpec } from './params.js';

export interface ResNetConfig {
  name: string;
  block: 'basic' | 'bottleneck';
  layers: [number, number, number, number];
  /** stem width; stage s has planes width * 2^s (torchvision: 64) */
  width: number;
  zeroInitResidual: boolean;
}

const PRESETS: Record<string, Pick<ResNetConfig, 'block' | 'layers'>> = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
};

export const RESNET_NAMES: readonly string[] = Object.keys(PRESETS);
export const isResNetName = (name: string): boolean => name in PRESETS;

export function resnetConfig(name: string, overrides: Partial<Omit<ResNetConfig, 'name'>> = {}): ResNetConfig {
  const p = PRESETS[name];
  if (!p) throw new UserError(`unknown ResNet '${name}': expected one of ${RESNET_NAMES.join(', ')}`);
  return { name, ...p, width: 64, zeroInitResidual: false, ...overrides };
}

export const expansion = (cfg: ResNetConfig): number => (cfg.block === 'basic' ? 1 : 4);
/** Channels of the pooled features: 512 for resnet18/34, 2048 for resnet50/101. */
export const resnetFeatureDim = (cfg: ResNetConfig): number => cfg.width * 8 * expansion(cfg);

/** One residual block's shape, in the order torchvision builds them. */
export interface BlockLayout {
  prefix: string;
  inCh: number;
  planes: number;
  outCh: number;
  stride: number;
  downsample: boolean;
}

export function resnetLayout(cfg: ResNetConfig): BlockLayout[] {
  const out: BlockLayout[] = [];
  let inCh = cfg.width;
  cfg.layers.forEach((n, s) => {
    const planes = cfg.width * 2 ** s, outCh = planes * expansion(cfg);
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      out.push({ prefix: `layer${s + 1}.${b}.`, inCh, planes, outCh, stride, downsample: b === 0 && (stride !== 1 || inCh !== outCh) });
      inCh = outCh;
    }
  });
  return out;
}

function conv(name: string, outCh: number, inCh: number, k: number, lr: LrGroup): ParamSpec {
  return param(name, [outCh, inCh, k, k], { kind: 'kaiming_normal_fan_out', fanOut: outCh * k * k }, true, lr);
}

export function resnetSpec(cfg: ResNetConfig): ParamSpec[] {
  const stem: LrGroup = { group: 'stem', layer: 0, numLayers: 4 };
  const out: ParamSpec[] = [conv('conv1.weight', cfg.width, 3, 7, stem), ...spec.batchNorm('bn1', cfg.width, stem)];
  const lastBn = cfg.zeroInitResidual ? ({ kind: 'zeros' } as const) : ({ kind: 'ones' } as const);
  for (const b of resnetLayout(cfg)) {
    const lr: LrGroup = { group: 'stage', layer: Number(b.prefix[5]), numLayers: 4 };
    if (cfg.block === 'basic') {
      out.push(conv(b.prefix + 'conv1.weight', b.planes, b.inCh, 3, lr), ...spec.batchNorm(b.prefix + 'bn1', b.planes, lr));
      out.push(conv(b.prefix + 'conv2.weight', b.planes, b.planes, 3, lr), ...spec.batchNorm(b.prefix + 'bn2', b.planes, lr, lastBn));
    } else {
      out.push(conv(b.prefix + 'conv1.weight', b.planes, b.inCh, 1, lr), ...spec.batchNorm(b.prefix + 'bn1', b.planes, lr));
      out.push(conv(b.prefix + 'conv2.weight', b.planes, b.planes, 3, lr), ...spec.batchNorm(b.prefix + 'bn2', b.planes, lr));
      out.push(conv(b.prefix + 'conv3.weight', b.outCh, b.planes, 1, lr), ...spec.batchNorm(b.prefix + 'bn3', b.outCh, lr, lastBn));
    }
    if (b.downsample)
      out.push(conv(b.prefix + 'downsample.0.weight', b.outCh, b.inCh, 1, lr), ...spec.batchNorm(b.prefix + 'downsample.1', b.outCh, lr));
  }
  return out;
}
