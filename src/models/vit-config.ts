// ViT architecture configs: the presets by name ('vit-small/14', 'vit-base/16-reg4') and overrides for tests.

import { UserError } from '../util/errors.js';
import type { PosInterpolation } from './pos-embed.js';

export interface VitConfig {
  /** the name it was parsed from, e.g. 'vit-small/14' */
  name: string;
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  /** the image size the stored pos_embed grid belongs to (224 -> 14x14 for /16, 16x16 for /14) */
  imgSize: number;
  mlpRatio: number;
  /** LayerScale init value (DINOv2: 1e-5); undefined = no LayerScale */
  layerScale?: number;
  /** register tokens (timm's reg_token; with registers the pos_embed covers the patches only, as timm's DINOv2-reg) */
  numRegisters: number;
  /** a mask_token parameter for masked-image modelling (iBOT / DINOv2) */
  maskToken: boolean;
  lnEps: number;
  posInterpolation: PosInterpolation;
}

const SIZES: Record<string, { embedDim: number; depth: number; numHeads: number }> = {
  tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  small: { embedDim: 384, depth: 12, numHeads: 6 },
  base: { embedDim: 768, depth: 12, numHeads: 12 },
  large: { embedDim: 1024, depth: 24, numHeads: 16 },
};
const PATCHES = [8, 14, 16];

export const VIT_NAMES: readonly string[] = Object.keys(SIZES).flatMap((s) => PATCHES.map((p) => `vit-${s}/${p}`));

const NAME_RE = /^vit-(tiny|small|base|large)\/(\d+)(?:-reg(\d+))?$/;

export const isVitName = (name: string): boolean => NAME_RE.test(name);

/** Parses 'vit-<tiny|small|base|large>/<8|14|16>[-reg<R>]'; `overrides` replace any field (tests, tiny models). */
export function vitConfig(name: string, overrides: Partial<Omit<VitConfig, 'name'>> = {}): VitConfig {
  const m = NAME_RE.exec(name);
  if (!m) throw new UserError(`unknown ViT '${name}': expected vit-<${Object.keys(SIZES).join('|')}>/<${PATCHES.join('|')}>[-reg<N>], e.g. vit-small/16`);
  const patchSize = Number(m[2]);
  if (!PATCHES.includes(patchSize)) throw new UserError(`ViT patch size ${patchSize} is not supported; use one of ${PATCHES.join(', ')}`);
  const cfg: VitConfig = {
    name,
    ...SIZES[m[1]],
    patchSize,
    imgSize: 224,
    mlpRatio: 4,
    layerScale: undefined,
    numRegisters: m[3] === undefined ? 0 : Number(m[3]),
    maskToken: false,
    lnEps: 1e-6,
    posInterpolation: 'dino',
    ...overrides,
  };
  validate(cfg);
  return cfg;
}

function validate(c: VitConfig): void {
  if (c.embedDim % c.numHeads !== 0) throw new UserError(`ViT embed dim ${c.embedDim} is not divisible by ${c.numHeads} heads`);
  if (c.imgSize % c.patchSize !== 0) throw new UserError(`ViT image size ${c.imgSize} is not a multiple of the patch size ${c.patchSize}`);
  if (!Number.isInteger(c.depth) || c.depth < 1) throw new UserError(`ViT depth must be a positive integer, got ${c.depth}`);
  if (!Number.isInteger(c.numRegisters) || c.numRegisters < 0) throw new UserError(`ViT registers must be >= 0, got ${c.numRegisters}`);
}

/** The patch grid of a square or rectangular image (the remainder of a size that is not a multiple is dropped). */
export function patchGrid(cfg: VitConfig, height: number, width = height): { rows: number; cols: number } {
  const rows = Math.floor(height / cfg.patchSize), cols = Math.floor(width / cfg.patchSize);
  if (rows < 1 || cols < 1) throw new UserError(`image ${height}x${width} is smaller than the ViT patch size ${cfg.patchSize}`);
  return { rows, cols };
}
