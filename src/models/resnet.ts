// ResNet forward pass as torchvision builds it (BasicBlock / Bottleneck v1.5), backbone only: conv1 7x7/2 ->
// bn1 -> relu -> maxpool 3x3/2 -> layer1..4 -> global average pool -> [N, C]. BatchNorm in 'train' mode uses batch
// statistics and reports them (see layers/batch-norm.ts); 'eval' mode uses the running statistics.

import type { Graph, Tensor } from '../graph/index.js';
import type { Params } from './graph-params.js';
import { batchNorm, type BnMode, type BnStat } from './layers/batch-norm.js';
import { resnetLayout, type BlockLayout, type ResNetConfig } from './resnet-spec.js';

export interface ResNetOutputs {
  /** globally average-pooled features [N, C] */
  features: Tensor;
  /** the last stage's output [N, C, h, w] that is pooled */
  featureMap: Tensor;
  /** train mode: every BN layer's batch mean and unbiased variance, in spec order */
  bnStats: BnStat[];
}

function conv(g: Graph, P: Params, name: string, x: Tensor, stride: number): Tensor {
  const w = P(name);
  const k = w.shape[2] as number, p = (k - 1) >> 1;
  return g.conv(x, w, null, { strides: [stride, stride], pads: [p, p, p, p] });
}

function residualBlock(g: Graph, P: Params, b: BlockLayout, x: Tensor, cfg: ResNetConfig, mode: BnMode, stats: BnStat[]): Tensor {
  const q = b.prefix;
  const bn = (t: Tensor, n: string) => batchNorm(g, P, q + n, t, mode, stats);
  let h: Tensor;
  if (cfg.block === 'basic') {
    h = g.relu(bn(conv(g, P, q + 'conv1.weight', x, b.stride), 'bn1'));
    h = bn(conv(g, P, q + 'conv2.weight', h, 1), 'bn2');
  } else {
    h = g.relu(bn(conv(g, P, q + 'conv1.weight', x, 1), 'bn1'));
    h = g.relu(bn(conv(g, P, q + 'conv2.weight', h, b.stride), 'bn2'));
    h = bn(conv(g, P, q + 'conv3.weight', h, 1), 'bn3');
  }
  const identity = b.downsample ? bn(conv(g, P, q + 'downsample.0.weight', x, b.stride), 'downsample.1') : x;
  return g.relu(g.add(h, identity));
}

export function resnetForward(g: Graph, P: Params, images: Tensor, cfg: ResNetConfig, mode: BnMode): ResNetOutputs {
  const stats: BnStat[] = [];
  let x = g.relu(batchNorm(g, P, 'bn1', conv(g, P, 'conv1.weight', images, 2), mode, stats));
  x = g.maxPool(x, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  for (const b of resnetLayout(cfg)) x = residualBlock(g, P, b, x, cfg, mode, stats);
  return { features: g.reduceMean(x, [2, 3], false), featureMap: x, bnStats: stats };
}
