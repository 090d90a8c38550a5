// Backbones by name: 'vit-<tiny|small|base|large>/<8|14|16>[-reg<R>]' and 'resnet18|34|50|101', behind one
// interface that methods, export and embed use without knowing which family they hold.

import type { Graph, Tensor } from '../graph/index.js';
import { UserError } from '../util/errors.js';
import type { Params } from './graph-params.js';
import type { BnMode, BnStat } from './layers/batch-norm.js';
import type { ParamSpec } from './params.js';
import { resnetForward } from './resnet.js';
import { isResNetName, resnetConfig, resnetFeatureDim, resnetSpec, RESNET_NAMES, type ResNetConfig } from './resnet-spec.js';
import { vitForward } from './vit.js';
import { isVitName, vitConfig, VIT_NAMES, type VitConfig } from './vit-config.js';
import { MASK_TOKEN, vitSpec } from './vit-spec.js';

export interface BackboneForwardOptions {
  /** ViT: [N, T] patch mask for the mask token (DINOv2 / iBOT) */
  masks?: Tensor;
  /** ViT: 2·depth per-sample keep masks [N] (see layers/drop-path.ts) */
  dropPath?: readonly (Tensor | undefined)[];
  /** ResNet: BatchNorm with batch statistics ('train', default) or running statistics ('eval') */
  bnMode?: BnMode;
}

export interface BackboneOutputs {
  /** the image embedding [N, D]: ViT class token after the final norm, ResNet pooled features */
  cls: Tensor;
  /** ViT patch tokens after the final norm [N, T, D] */
  patchTokens?: Tensor;
  /** ResNet: the last stage's output [N, D, h, w], before pooling */
  featureMap?: Tensor;
  regTokens?: Tensor;
  preNormCls?: Tensor;
  /** ResNet in train mode: BN batch statistics for updateRunningStats */
  bnStats: BnStat[];
}

export interface BackboneModel {
  name: string;
  kind: 'vit' | 'resnet';
  embedDim: number;
  patchSize?: number;
  defaultImageSize: number;
  /** number of drop-path keep masks forward() accepts (2·depth for ViTs, 0 for ResNets) */
  dropPathSlots: number;
  config: VitConfig | ResNetConfig;
  spec(): ParamSpec[];
  /** whether a spec name belongs in the timm/torchvision backbone export (false for mask_token) */
  isExportKey(name: string): boolean;
  forward(g: Graph, P: Params, images: Tensor, opts?: BackboneForwardOptions): BackboneOutputs;
}

export interface ModelOverrides {
  vit?: Partial<Omit<VitConfig, 'name'>>;
  resnet?: Partial<Omit<ResNetConfig, 'name'>>;
}

export const MODEL_NAMES: readonly string[] = [...VIT_NAMES, ...RESNET_NAMES];

function vitModel(cfg: VitConfig): BackboneModel {
  return {
    name: cfg.name,
    kind: 'vit',
    embedDim: cfg.embedDim,
    patchSize: cfg.patchSize,
    defaultImageSize: cfg.imgSize,
    dropPathSlots: 2 * cfg.depth,
    config: cfg,
    spec: () => vitSpec(cfg),
    isExportKey: (name) => name !== MASK_TOKEN,
    forward(g, P, images, opts = {}) {
      const o = vitForward(g, P, images, cfg, { masks: opts.masks, dropPath: opts.dropPath });
      return { cls: o.cls, patchTokens: o.patchTokens, regTokens: o.regTokens, preNormCls: o.preNormCls, bnStats: [] };
    },
  };
}

function resnetModel(cfg: ResNetConfig): BackboneModel {
  return {
    name: cfg.name,
    kind: 'resnet',
    embedDim: resnetFeatureDim(cfg),
    defaultImageSize: 224,
    dropPathSlots: 0,
    config: cfg,
    spec: () => resnetSpec(cfg),
    isExportKey: () => true,
    forward(g, P, images, opts = {}) {
      if (opts.masks || opts.dropPath?.some(Boolean)) throw new Error(`${cfg.name}: masks and drop path are ViT-only`);
      const o = resnetForward(g, P, images, cfg, opts.bnMode ?? 'train');
      return { cls: o.features, featureMap: o.featureMap, bnStats: o.bnStats };
    },
  };
}

/** A backbone by name; unknown names raise a UserError that lists the valid ones. */
export function getModel(name: string, overrides: ModelOverrides = {}): BackboneModel {
  if (isVitName(name)) return vitModel(vitConfig(name, overrides.vit));
  if (isResNetName(name)) return resnetModel(resnetConfig(name, overrides.resnet));
  throw new UserError(`unknown model '${name}'. Valid models: ${MODEL_NAMES.join(', ')} (ViTs also take a -reg<N> suffix for register tokens)`);
}
