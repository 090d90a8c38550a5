// A ViT state dict with timm's names (timm's DINOv2 weights, another dinotrain export) fitted to the ViT a run
// trains: pos_embed resampled from the file's grid to the stored one, LayerScale and register tokens checked
// against the file's keys. Only exact changes are made; an architecture the file does not hold is a UserError
// that names the setting to use.
import { UserError } from '../util/errors.js';
import { resamplePosEmbed, squareGrid } from './pos-embed-values.js';
import type { VitConfig } from './vit-config.js';
import { posEmbedPrefix, storedGridSide } from './vit-spec.js';

export interface FileTensor {
  shape: readonly number[];
  /** undefined for dtypes that are not numbers */
  values: Float32Array | undefined;
  dtype: string;
}

export interface VitImport {
  tensors: Map<string, FileTensor>;
  /** what was changed, one line each (shown as warnings) */
  notes: string[];
}

/** What a timm-named ViT state dict holds, read from its keys and shapes. */
export interface FileVit {
  patchSize: number;
  embedDim: number;
  depth: number;
  numRegisters: number;
  layerScale: boolean;
  /** pos_embed tokens before the grid (1: the class token's position) */
  posPrefix: number;
  posSide: number;
}

const PRESETS: Record<string, { embedDim: number; depth: number }> = {
  tiny: { embedDim: 192, depth: 12 },
  small: { embedDim: 384, depth: 12 },
  base: { embedDim: 768, depth: 12 },
  large: { embedDim: 1024, depth: 24 },
};

function readFileVit(file: ReadonlyMap<string, FileTensor>, where: string): FileVit | undefined {
  const proj = file.get('patch_embed.proj.weight');
  const pos = file.get('pos_embed');
  if (!proj || !pos || proj.shape.length !== 4 || pos.shape.length !== 3) return undefined;
  let depth = 0;
  while (file.has(`blocks.${depth}.norm1.weight`)) depth++;
  const tokens = pos.shape[1];
  const posPrefix = squareGrid(tokens) ? 0 : squareGrid(tokens - 1) ? 1 : -1;
  if (posPrefix < 0) throw new UserError(`${where}: pos_embed [${pos.shape}] holds no square patch grid (with or without a class-token position)`);
  return {
    patchSize: proj.shape[2],
    embedDim: proj.shape[0],
    depth,
    numRegisters: file.get('reg_token')?.shape[1] ?? 0,
    layerScale: file.has('blocks.0.ls1.gamma'),
    posPrefix,
    posSide: squareGrid(tokens - posPrefix)!.rows,
  };
}

function describe(v: { patchSize: number; embedDim: number; depth: number; numRegisters: number; layerScale: boolean }): string {
  const regs = v.numRegisters > 0 ? `, ${v.numRegisters} register tokens` : ', no register tokens';
  return `patch size ${v.patchSize}, embed dim ${v.embedDim}, depth ${v.depth}${regs}, ${v.layerScale ? 'LayerScale' : 'no LayerScale'}`;
}

/** The --model and model_args that build the file's architecture (`withLayerScale`: the model has none yet). */
function modelFor(f: FileVit, withLayerScale: boolean): string {
  const size = Object.keys(PRESETS).find((s) => PRESETS[s].embedDim === f.embedDim && PRESETS[s].depth === f.depth);
  const name = `vit-${size ?? 'small'}/${f.patchSize}${f.numRegisters > 0 ? `-reg${f.numRegisters}` : ''}`;
  const args = [
    ...(size ? [] : [`embed_dim: ${f.embedDim}`, `depth: ${f.depth}`, "num_heads: <the file's>"]),
    ...(withLayerScale ? ['layer_scale: 1e-5'] : []),
  ];
  return `--model ${name}${args.length ? ` with model_args: { ${args.join(', ')} }` : ''}`;
}

/**
 * The file's tensors under the names and shapes of `cfg`'s ViT: a UserError when the file's patch size, sizes or
 * registers differ, or when it has LayerScale the model lacks (the fix: model_args.layer_scale); LayerScale the file
 * lacks becomes gammas of 1 and a missing class-token position zeros (both the same function); pos_embed is resampled
 * to the stored grid as the forward resamples it (DINOv2's bicubic with the 0.1 offset).
 */
export function fitVitTensors(cfg: VitConfig, file: ReadonlyMap<string, FileTensor>, where: string): VitImport {
  const tensors = new Map(file);
  const notes: string[] = [];
  const f = readFileVit(file, where);
  if (!f) return { tensors, notes };
  const mine = { patchSize: cfg.patchSize, embedDim: cfg.embedDim, depth: cfg.depth, numRegisters: cfg.numRegisters, layerScale: cfg.layerScale !== undefined };
  if (f.patchSize !== mine.patchSize || f.embedDim !== mine.embedDim || f.depth !== mine.depth || f.numRegisters !== mine.numRegisters) {
    throw new UserError(`${where} holds a ViT with ${describe(f)}; ${cfg.name} here has ${describe(mine)}: use ${modelFor(f, f.layerScale && !mine.layerScale)}`);
  }
  if (f.layerScale && !mine.layerScale) {
    throw new UserError(
      `${where} has LayerScale (blocks.N.ls1.gamma / ls2.gamma) and ${cfg.name} here has none: add model_args: { layer_scale: 1e-5 } to the --config file (DINOv2 models have it by default)`,
    );
  }
  const D = cfg.embedDim;
  if (!f.layerScale && mine.layerScale) {
    for (let i = 0; i < cfg.depth; i++)
      for (const ls of ['ls1', 'ls2']) tensors.set(`blocks.${i}.${ls}.gamma`, { shape: [D], values: new Float32Array(D).fill(1), dtype: 'F32' });
    notes.push(`${where} has no LayerScale: ${cfg.name}'s LayerScale gammas start at 1 (the same function)`);
  }

  const pos = file.get('pos_embed')!;
  if (!pos.values) return { tensors, notes };
  const prefix = posEmbedPrefix(cfg), side = storedGridSide(cfg);
  let values = pos.values;
  if (f.posPrefix !== prefix) {
    if (prefix === 0) {
      throw new UserError(`${where}: pos_embed has a class-token position, which ${cfg.name} (registers: the DINOv2-reg layout, no class position) does not use`);
    }
    values = new Float32Array(values.length + D);
    values.set(pos.values, D);
    notes.push(`${where}: pos_embed has no class-token position: ${cfg.name}'s is 0 (the same function)`);
  }
  if (f.posSide !== side) {
    const from = { rows: f.posSide, cols: f.posSide }, to = { rows: side, cols: side };
    values = resamplePosEmbed(values, D, prefix, from, to, cfg.posInterpolation);
    notes.push(
      `${where}: pos_embed resampled from a ${f.posSide}x${f.posSide} to a ${side}x${side} patch grid ` +
        `(bicubic, scale factor (new + 0.1) / old, as DINOv2 runs the file's model at ${cfg.imgSize} px)`,
    );
  }
  if (values !== pos.values) tensors.set('pos_embed', { shape: [1, prefix + side * side, D], values, dtype: 'F32' });
  return { tensors, notes };
}
