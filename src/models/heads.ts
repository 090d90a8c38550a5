// Head forward passes. DINO head (dinov2/layers/dino_head.py): MLP with GELUs, L2-normalise (eps 1e-12), then the
// weight-normalised last layer with weight_g fixed at 1, i.e. logits = z · (v / ‖v‖_row)ᵀ. SimCLR projection head:
// Linear(no bias) -> BatchNorm1d -> ReLU -> Linear.

import type { Graph, Tensor } from '../graph/index.js';
import { prefixed, type Params } from './graph-params.js';
import { dinoHeadLinears, type DinoHeadConfig, type ProjectionHeadConfig } from './heads-spec.js';
import { batchNorm, type BnMode, type BnStat } from './layers/batch-norm.js';

/** x [..., inDim] -> logits [..., outDim] (rank 2 for class tokens, rank 3 for patch tokens). */
export function dinoHeadForward(g: Graph, P: Params, x: Tensor, cfg: DinoHeadConfig, prefix = 'dino_head.'): Tensor {
  const Q = prefixed(P, prefix);
  const layers = dinoHeadLinears(cfg);
  layers.forEach(([name], i) => {
    x = g.linear(x, Q(name + '.weight'), Q(name + '.bias'));
    if (i < layers.length - 1) x = g.gelu(x);
  });
  const z = g.l2Normalize(x, -1, 1e-12);
  const v = Q('last_layer.weight_v');
  return g.linear(z, g.div(v, g.reduceL2(v, [1], true)));
}

export function simclrHeadForward(
  g: Graph,
  P: Params,
  x: Tensor,
  cfg: ProjectionHeadConfig,
  mode: BnMode,
  stats: BnStat[],
  prefix = 'projection_head.',
): Tensor {
  const Q = prefixed(P, prefix);
  if (x.shape[x.rank - 1] !== cfg.inDim) throw new Error(`projection head expects ${cfg.inDim} features, got [${x.shape}]`);
  let h = g.linear(x, Q('0.weight'));
  const local: BnStat[] = [];
  h = g.relu(batchNorm(g, Q, '1', h, mode, local));
  for (const s of local) stats.push({ ...s, name: prefix + s.name });
  return g.linear(h, Q('3.weight'), Q('3.bias'));
}
