// BatchNorm as torch runs it. Training mode normalises with the batch statistics inside the graph and reports,
// per layer, the batch mean and the unbiased batch variance (torch's running_var update uses var·n/(n−1)) so the
// trainer updates running_mean/var outside the graph (updateRunningStats). Eval mode uses the running statistics.

import { dimMul, type Graph, type Tensor } from '../../graph/index.js';
import type { Params } from '../graph-params.js';
import type { ParamValues } from '../params.js';

export type BnMode = 'train' | 'eval';

export interface BnStat {
  /** the BN module name, e.g. 'layer1.0.bn1' (its tensors are name + '.running_mean' ...) */
  name: string;
  /** batch mean [C] */
  mean: Tensor;
  /** unbiased batch variance [C] */
  var: Tensor;
}

export const BN_EPS = 1e-5;

export function batchNorm(g: Graph, P: Params, name: string, x: Tensor, mode: BnMode, stats: BnStat[]): Tensor {
  const w = P(name + '.weight'), b = P(name + '.bias');
  if (mode === 'eval') return g.batchNormInference(x, w, b, P(name + '.running_mean'), P(name + '.running_var'), BN_EPS);
  const r = g.batchNorm(x, w, b, BN_EPS);
  const count = x.shape.filter((_, i) => i !== 1).reduce((a, d) => dimMul(a, d), 1);
  const n = g.dimScalar(count);
  stats.push({ name, mean: r.mean, var: g.mul(r.var, g.div(n, g.sub(n, 1))) });
  return r.y;
}

/** torch's running-stat update: running = (1 − momentum)·running + momentum·batch; num_batches_tracked += 1. */
export function updateRunningStats(
  values: ParamValues,
  stats: readonly { name: string; mean: ArrayLike<number>; var: ArrayLike<number> }[],
  momentum = 0.1,
): void {
  for (const s of stats) {
    const rm = values.get(s.name + '.running_mean'), rv = values.get(s.name + '.running_var');
    if (!rm || !rv) throw new Error(`no running statistics for ${s.name}`);
    for (let c = 0; c < rm.length; c++) {
      rm[c] = (1 - momentum) * rm[c] + momentum * s.mean[c];
      rv[c] = (1 - momentum) * rv[c] + momentum * s.var[c];
    }
    const nb = values.get(s.name + '.num_batches_tracked');
    if (nb) nb[0] += 1;
  }
}
