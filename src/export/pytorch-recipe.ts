// How PyTorch builds the module an exported backbone.safetensors loads into with strict key matching: a timm model
// name and the create_model keyword arguments that make its state_dict the file's (ViTs), or a torchvision
// constructor (ResNets of torchvision's width). Written into the file's metadata and shown in docs/pytorch.md.
import type { BackboneModel } from '../models/registry.js';
import type { ResNetConfig } from '../models/resnet-spec.js';
import type { VitConfig } from '../models/vit-config.js';

export interface TimmRecipe {
  /** timm.create_model's first argument */
  name: string;
  /** its keyword arguments, JSON-ready */
  kwargs: Record<string, number | boolean>;
}

interface TimmVit {
  name: string;
  patch_size: number;
  embed_dim: number;
  depth: number;
  num_heads: number;
  reg_tokens: number;
  layerScale: boolean;
}

const vit = (name: string, patch: number, dim: number, depth: number, heads: number, layerScale = false, regs = 0): TimmVit => ({
  name, patch_size: patch, embed_dim: dim, depth, num_heads: heads, reg_tokens: regs, layerScale,
});

/** timm's ViTs dinotrain's presets are closest to; every one has mlp_ratio 4, qkv bias, LayerNorm eps 1e-6. */
const TIMM_VITS: readonly TimmVit[] = [
  vit('vit_tiny_patch16_224', 16, 192, 12, 3),
  vit('vit_small_patch16_224', 16, 384, 12, 6),
  vit('vit_base_patch16_224', 16, 768, 12, 12),
  vit('vit_large_patch16_224', 16, 1024, 24, 16),
  vit('vit_small_patch8_224', 8, 384, 12, 6),
  vit('vit_base_patch8_224', 8, 768, 12, 12),
  vit('vit_small_patch14_dinov2', 14, 384, 12, 6, true),
  vit('vit_base_patch14_dinov2', 14, 768, 12, 12, true),
  vit('vit_large_patch14_dinov2', 14, 1024, 24, 16, true),
  vit('vit_small_patch14_reg4_dinov2', 14, 384, 12, 6, true, 4),
  vit('vit_base_patch14_reg4_dinov2', 14, 768, 12, 12, true, 4),
  vit('vit_large_patch14_reg4_dinov2', 14, 1024, 24, 16, true, 4),
];

/**
 * The timm model whose defaults differ least from `cfg`, with the differences as keyword arguments. Only models with
 * the same LayerScale are candidates: create_model drops None arguments, so LayerScale cannot be switched off by one.
 * `imageSize` is the input size the file's pos_embed is for (img_size).
 */
export function timmRecipe(cfg: VitConfig, imageSize: number): TimmRecipe {
  const want = {
    patch_size: cfg.patchSize,
    embed_dim: cfg.embedDim,
    depth: cfg.depth,
    num_heads: cfg.numHeads,
    reg_tokens: cfg.numRegisters,
  };
  const keys = Object.keys(want) as (keyof typeof want)[];
  const differences = (t: TimmVit) => keys.filter((k) => t[k] !== want[k]);
  const candidates = TIMM_VITS.filter((t) => t.layerScale === (cfg.layerScale !== undefined));
  const best = candidates.reduce((a, b) => (differences(b).length < differences(a).length ? b : a));
  const kwargs: Record<string, number | boolean> = { num_classes: 0, img_size: imageSize };
  for (const k of differences(best)) kwargs[k] = want[k];
  // with registers pos_embed covers the patches only (timm's DINOv2-reg layout)
  if ((best.reg_tokens > 0) !== (cfg.numRegisters > 0)) kwargs.no_embed_class = cfg.numRegisters > 0;
  return { name: best.name, kwargs };
}

/** torchvision's constructor for a ResNet of its own width (fc replaced by Identity before loading), else undefined. */
export const torchvisionName = (cfg: ResNetConfig): string | undefined => (cfg.width === 64 ? cfg.name : undefined);

/** The metadata keys that tell PyTorch how to load the file (see docs/pytorch.md). */
export function pytorchMetadata(model: BackboneModel, imageSize: number): Record<string, string> {
  if (model.kind === 'vit') {
    const r = timmRecipe(model.config as VitConfig, imageSize);
    const cfg = model.config as VitConfig;
    return {
      image_size: String(imageSize),
      stored_image_size: String(cfg.imgSize),
      timm_model: r.name,
      timm_kwargs: JSON.stringify(r.kwargs),
      pos_embed_resize: 'bicubic, scale_factor=(grid + 0.1) / stored_grid, align_corners=False, antialias=False; class token position kept',
    };
  }
  const name = torchvisionName(model.config as ResNetConfig);
  return name ? { torchvision_model: name } : {};
}
