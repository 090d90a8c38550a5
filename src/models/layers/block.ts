// A pre-norm transformer block (timm / DINOv2): x + drop(ls1(attn(norm1(x)))), then x + drop(ls2(mlp(norm2(x)))),
// with an exact-GELU MLP and optional LayerScale (a per-channel gamma).

import type { Graph, Tensor } from '../../graph/index.js';
import type { Params } from '../graph-params.js';
import { attention } from './attention.js';
import { dropPath } from './drop-path.js';

export interface BlockOptions {
  numHeads: number;
  lnEps: number;
  layerScale: boolean;
  /** keep masks [N] for the attention and the MLP branch (absent: no drop path) */
  keepAttn?: Tensor;
  keepMlp?: Tensor;
}

export function mlp(g: Graph, P: Params, prefix: string, x: Tensor): Tensor {
  const h = g.gelu(g.linear(x, P(prefix + 'fc1.weight'), P(prefix + 'fc1.bias')));
  return g.linear(h, P(prefix + 'fc2.weight'), P(prefix + 'fc2.bias'));
}

export function block(g: Graph, P: Params, prefix: string, x: Tensor, o: BlockOptions): Tensor {
  const norm = (t: Tensor, n: string) => g.layerNorm(t, P(prefix + n + '.weight'), P(prefix + n + '.bias'), o.lnEps);
  const scale = (t: Tensor, n: string) => (o.layerScale ? g.mul(t, P(prefix + n + '.gamma')) : t);
  x = g.add(x, dropPath(g, scale(attention(g, P, prefix + 'attn.', norm(x, 'norm1'), o.numHeads), 'ls1'), o.keepAttn));
  return g.add(x, dropPath(g, scale(mlp(g, P, prefix + 'mlp.', norm(x, 'norm2')), 'ls2'), o.keepMlp));
}
