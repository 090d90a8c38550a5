// Patch embedding, equal to timm's Conv2d(3, D, P, stride P) but written as Reshape + Transpose + MatMul
// (cheaper to differentiate): [N,3,H,W] -> [N, rows·cols, D], tokens in row-major grid order. Pixels beyond the
// last whole patch are dropped, as the strided conv does.

import type { Graph, Tensor } from '../../graph/index.js';
import type { Params } from '../graph-params.js';

export function patchEmbed(g: Graph, P: Params, images: Tensor, patch: number): { tokens: Tensor; rows: number; cols: number } {
  const [N, C, H, W] = images.shape;
  if (typeof H !== 'number' || typeof W !== 'number' || C !== 3) throw new Error(`patch embed needs images [N,3,H,W] with static H, W; got [${images.shape}]`);
  const rows = Math.floor(H / patch), cols = Math.floor(W / patch);
  let x = images;
  if (rows * patch !== H || cols * patch !== W) x = g.slice(x, [0, 0], [rows * patch, cols * patch], [2, 3]);
  x = g.reshape(g.transpose(g.reshape(x, [N, 3, rows, patch, cols, patch]), [0, 2, 4, 1, 3, 5]), [N, rows * cols, 3 * patch * patch]);
  const w = P('patch_embed.proj.weight'); // [D, 3, P, P]
  const tokens = g.linear(x, g.reshape(w, [w.shape[0], 3 * patch * patch]), P('patch_embed.proj.bias'));
  return { tokens, rows, cols };
}
