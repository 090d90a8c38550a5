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
  const [qh, kh, vh] = [q, k, v].map((t) => g.transpose(t, [0, 2, 1, 3])); // [N,H,T,hd]
  // q·kᵀ with kᵀ and the scale folded into one FusedMatMul (training graphs): no transposed copy of k, whose [N,H,hd,T]
  // layout cost twice the [N,H,T,hd] one; exports get MatMul, Transpose and Mul, which ORT fuses the same way at load
  const att = g.softmax(g.matmulT(qh, kh, { transB: true, alpha: hd ** -0.5 }), -1);
  const o = g.reshape(g.transpose(g.matmul(att, vh), [0, 2, 1, 3]), [N, T, D]);
  return g.linear(o, P(prefix + 'proj.weight'), P(prefix + 'proj.bias'));
}
