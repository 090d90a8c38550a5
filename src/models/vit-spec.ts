// The ViT's parameters with timm's names, shapes (PyTorch layouts) and order, and DINO / timm initialisation:
// trunc_normal(0.02) for Linear weights, pos_embed and cls_token; zero biases; LayerNorm ones/zeros; the patch
// embedding keeps PyTorch's default Conv2d init (U(±1/sqrt(fan_in)) for weight and bias), as timm and DINO do;
// registers N(0, 1e-6²) and mask_token zeros as DINOv2. No weight decay for biases, norms, LayerScale gammas,
// tokens and pos_embed (timm's no_weight_decay plus the 1-D rule of DINO).

import { param, spec, type LrGroup, type ParamSpec } from './params.js';
import type { VitConfig } from './vit-config.js';

/** Name of the DINOv2 mask token: not a timm key, so the backbone export leaves it out. */
export const MASK_TOKEN = 'mask_token';

/** Side of the patch grid the stored pos_embed holds (imgSize / patch). */
export const storedGridSide = (cfg: VitConfig): number => cfg.imgSize / cfg.patchSize;

/** Tokens of pos_embed before the patch grid: the class token's position; none with registers (timm's DINOv2-reg layout). */
export const posEmbedPrefix = (cfg: VitConfig): number => (cfg.numRegisters > 0 ? 0 : 1);

/** Layer-wise lr decay: tokens and patch embed are layer 0, block i is i + 1, the final norm depth + 1. */
function lrOf(cfg: VitConfig, group: LrGroup['group'], layer: number): LrGroup {
  return { group, layer, numLayers: cfg.depth + 1 };
}

export function vitSpec(cfg: VitConfig): ParamSpec[] {
  const D = cfg.embedDim, P = cfg.patchSize, side = storedGridSide(cfg);
  const embed = lrOf(cfg, 'embed', 0);
  const tokenInit = { kind: 'trunc_normal', std: 0.02 } as const;
  const out: ParamSpec[] = [param('cls_token', [1, 1, D], tokenInit, false, embed)];
  if (cfg.numRegisters > 0) out.push(param('reg_token', [1, cfg.numRegisters, D], { kind: 'normal', std: 1e-6 }, false, embed));
  out.push(param('pos_embed', [1, side * side + posEmbedPrefix(cfg), D], tokenInit, false, embed));
  const fanIn = 3 * P * P, patchLr = lrOf(cfg, 'patch_embed', 0), bound = 1 / Math.sqrt(fanIn);
  out.push(param('patch_embed.proj.weight', [D, 3, P, P], { kind: 'uniform', bound }, true, patchLr));
  out.push(param('patch_embed.proj.bias', [D], { kind: 'uniform', bound }, false, patchLr));
  const hidden = Math.round(D * cfg.mlpRatio);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}.`, lr = lrOf(cfg, 'block', i + 1);
    out.push(...spec.layerNorm(b + 'norm1', D, lr));
    out.push(...spec.linear(b + 'attn.qkv', D, 3 * D, lr));
    out.push(...spec.linear(b + 'attn.proj', D, D, lr));
    if (cfg.layerScale !== undefined) out.push(param(b + 'ls1.gamma', [D], { kind: 'constant', value: cfg.layerScale }, false, lr));
    out.push(...spec.layerNorm(b + 'norm2', D, lr));
    out.push(...spec.linear(b + 'mlp.fc1', D, hidden, lr));
    out.push(...spec.linear(b + 'mlp.fc2', hidden, D, lr));
    if (cfg.layerScale !== undefined) out.push(param(b + 'ls2.gamma', [D], { kind: 'constant', value: cfg.layerScale }, false, lr));
  }
  out.push(...spec.layerNorm('norm', D, lrOf(cfg, 'norm', cfg.depth + 1)));
  if (cfg.maskToken) out.push(param(MASK_TOKEN, [1, D], { kind: 'zeros' }, false, embed));
  return out;
}
