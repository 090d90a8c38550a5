// The Vision Transformer forward pass as graph-building code (timm's VisionTransformer with DINOv2's extras):
// patch embed -> mask token -> [cls, (registers), patches + pos] -> pre-norm blocks -> final LayerNorm.
// Each crop resolution is its own call sharing the same Params; a grid other than the stored one reads the
// position embedding through a constant bicubic matrix, so its gradient reaches the stored pos_embed.

import type { Graph, Tensor } from '../graph/index.js';
import type { Params } from './graph-params.js';
import { block } from './layers/block.js';
import { patchEmbed } from './layers/patch-embed.js';
import { posEmbedMatrix } from './pos-embed.js';
import type { VitConfig } from './vit-config.js';
import { MASK_TOKEN, storedGridSide } from './vit-spec.js';

export interface VitForwardOptions {
  /** [N, T] patch mask (float 1/0 or bool; true = masked): masked patch embeddings become mask_token before pos embed */
  masks?: Tensor;
  /** 2·depth keep masks [N] (block i: attention branch at 2i, MLP branch at 2i+1), scaled by 1/keep_prob */
  dropPath?: readonly (Tensor | undefined)[];
}

export interface VitOutputs {
  /** class token after the final norm [N, D] */
  cls: Tensor;
  /** patch tokens after the final norm [N, T, D] */
  patchTokens: Tensor;
  /** register tokens after the final norm [N, R, D] (R = 0: undefined) */
  regTokens?: Tensor;
  /** class token before the final norm [N, D] */
  preNormCls: Tensor;
  grid: { rows: number; cols: number };
}

/** The patch part of pos_embed for a grid: [1, rows·cols, D]. */
function patchPosEmbed(g: Graph, P: Params, cfg: VitConfig, rows: number, cols: number): Tensor {
  const pos = P('pos_embed');
  const side = storedGridSide(cfg), T0 = side * side, D = cfg.embedDim;
  const stored = cfg.numRegisters > 0 ? pos : g.slice(pos, [1], [1 + T0], [1]);
  if (rows === side && cols === side) return stored;
  const M = posEmbedMatrix({ rows: side, cols: side }, { rows, cols }, cfg.posInterpolation);
  const m = g.const(g.dtype === 'double' ? M : Float32Array.from(M), [rows * cols, T0]);
  return g.reshape(g.matmul(m, g.reshape(stored, [T0, D])), [1, rows * cols, D]);
}

function applyMask(g: Graph, P: Params, tokens: Tensor, masks: Tensor): Tensor {
  const mt = P(MASK_TOKEN); // [1, D]
  if (masks.dtype === 'bool') return g.where(g.unsqueeze(masks, [2]), mt, tokens);
  // tokens + m·(mask_token − tokens): exact for m ∈ {0, 1}
  return g.add(tokens, g.mul(g.unsqueeze(masks, [2]), g.sub(mt, tokens)));
}

export function vitForward(g: Graph, P: Params, images: Tensor, cfg: VitConfig, opts: VitForwardOptions = {}): VitOutputs {
  const N = images.shape[0], D = cfg.embedDim, R = cfg.numRegisters;
  const emb = patchEmbed(g, P, images, cfg.patchSize);
  const { rows, cols } = emb;
  const T = rows * cols;
  let tokens = emb.tokens;
  if (opts.masks) {
    if (!cfg.maskToken) throw new Error(`${cfg.name}: masks given but the model has no mask token`);
    tokens = applyMask(g, P, tokens, opts.masks);
  }
  tokens = g.add(tokens, patchPosEmbed(g, P, cfg, rows, cols));
  let cls = P('cls_token');
  if (R === 0) cls = g.add(cls, g.slice(P('pos_embed'), [0], [1], [1]));
  const prefix = [g.expand(cls, [N, 1, D])];
  if (R > 0) prefix.push(g.expand(P('reg_token'), [N, R, D]));
  let x = g.concat([...prefix, tokens], 1);

  const dp = opts.dropPath;
  if (dp && dp.length !== 2 * cfg.depth) throw new Error(`drop path needs ${2 * cfg.depth} keep masks, got ${dp.length}`);
  for (let i = 0; i < cfg.depth; i++)
    x = block(g, P, `blocks.${i}.`, x, {
      numHeads: cfg.numHeads,
      lnEps: cfg.lnEps,
      layerScale: cfg.layerScale !== undefined,
      keepAttn: dp?.[2 * i],
      keepMlp: dp?.[2 * i + 1],
    });

  // LayerNorm is per token, so each output normalises only its own tokens: a method that reads the class token
  // alone (DINO) then neither normalises nor back-propagates through the patch tokens' final norm.
  const norm = (t: Tensor) => g.layerNorm(t, P('norm.weight'), P('norm.bias'), cfg.lnEps);
  const preNormCls = g.gather(x, 0, 1);
  return {
    cls: norm(preNormCls),
    patchTokens: norm(g.slice(x, [1 + R], [1 + R + T], [1])),
    regTokens: R > 0 ? norm(g.slice(x, [1], [1 + R], [1])) : undefined,
    preNormCls,
    grid: { rows, cols },
  };
}
