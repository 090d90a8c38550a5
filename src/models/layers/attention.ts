// Multi-head self-attention as timm's Attention: qkv Linear with bias, columns ordered [3][heads][head_dim],
// softmax(q·kᵀ·head_dim^-0.5)·v, output projection.

import type { Graph, Tensor } from '../../graph/index.js';
import type { Params } from '../graph-params.js';

export function attention(g: Graph, P: Params, prefix: string, x: Tensor, numHeads: number): Tensor {
  const [N, T, D] = x.shape;
  const hd = (D as number) / numHeads;
  const qkv = g.linear(x, P(prefix + 'qkv.weight'), P(prefix + 'qkv.bias'));
  const heads = (t: Tensor) => g.reshape(t, [N, T, numHeads, hd]);
  const [q, k, v] = g.split(qkv, -1, 3).map(heads);
  const qh = g.transpose(q, [0, 2, 1, 3]); // [N,H,T,hd]
  const kt = g.transpose(k, [0, 2, 3, 1]); // [N,H,hd,T]
  const vh = g.transpose(v, [0, 2, 1, 3]);
  // the scale on the logits rather than on q: ORT folds it into the MatMul (and its gradient) as FusedMatMul alpha
  const att = g.softmax(g.mul(g.matmul(qh, kt), hd ** -0.5), -1);
  const o = g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [N, T, D]);
  return g.linear(o, P(prefix + 'proj.weight'), P(prefix + 'proj.bias'));
}
