// The backbone weights of a training checkpoint, without building the training method: state.json says which
// method and architecture (model + model_args) trained it, model.safetensors holds 'student.*' / 'teacher.*'. The
// backbone is the one the method's definition builds for that config (DINOv2's has LayerScale by default).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKBONE_PARTS, type BackbonePart, type BackboneWeights, type SerializedTensor } from '../models/weights.js';
import { methodNamed } from '../methods/index.js';
import type { PretrainConfig } from '../config/schema.js';
import type { ModelArgs } from '../models/overrides.js';
import type { BackboneModel } from '../models/registry.js';
import { UserError } from '../util/errors.js';
import { readSafetensors } from '../formats/safetensors.js';
import { toFloat32 } from '../formats/tensor-values.js';


/** The settings of the run that export needs, read from state.json's resolved config. */
export interface CheckpointRunInfo {
  method: string;
  model: string;
  modelArgs: ModelArgs;
  /** the backbone the method trained (its definition's model for this config) */
  backbone: BackboneModel;
  globalSize: number;
  mean: number[];
  std: number[];
  step: number;
}

export interface CheckpointBackbone extends CheckpointRunInfo {
  dir: string;
  part: BackbonePart;
  weights: BackboneWeights;
}

/** The network a method's export takes by default (its definition's exportPart). */
export const defaultPart = (method: string): BackbonePart => methodNamed(method, 'checkpoint: method').exportPart;

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/** The directory to read: `dir`, or `dir.old` when a crash interrupted a save between its two renames. */
async function checkpointDir(dir: string): Promise<string> {
  const s = await statOrUndefined(dir);
  if (!s) {
    if ((await statOrUndefined(`${dir}.old`))?.isDirectory()) return `${dir}.old`;
    throw new UserError(`checkpoint directory ${dir} does not exist (a run writes <out>/checkpoints/last and <out>/checkpoints/step-N)`);
  }
  if (!s.isDirectory()) {
    const hint = /\.onnx$/i.test(dir)
      ? ' — it is an ONNX file; --checkpoint takes a checkpoint directory such as runs/exp1/checkpoints/last'
      : ' (expected a checkpoint directory such as runs/exp1/checkpoints/last)';
    throw new UserError(`--checkpoint ${dir} is not a directory${hint}`);
  }
  return dir;
}

const isNumberArray = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number');

export async function readCheckpointRunInfo(dir: string): Promise<CheckpointRunInfo> {
  const statePath = join(dir, 'state.json');
  if (!(await statOrUndefined(statePath))) {
    const runFolder = (await statOrUndefined(join(dir, 'checkpoints', 'last')))?.isDirectory();
    throw new UserError(
      `${dir} is not a dinotrain checkpoint: state.json is missing` +
        (runFolder ? ` (it looks like a run folder: try --checkpoint ${join(dir, 'checkpoints', 'last')})` : ''),
    );
  }
  let state: { step?: unknown; config?: Record<string, unknown> };
  try {
    state = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (e) {
    throw new UserError(`checkpoint ${dir} has a corrupt state.json: ${(e as Error).message}`);
  }
  const cfg = state?.config;
  if (typeof cfg !== 'object' || cfg === null) throw new UserError(`checkpoint ${dir}: state.json has no config`);
  const t = cfg.transforms as { global?: { size?: unknown }; normalize?: { mean?: unknown; std?: unknown } } | undefined;
  const bad = (what: string) => new UserError(`checkpoint ${dir}: state.json's config has no valid ${what}`);
  if (typeof cfg.method !== 'string') throw bad('method');
  if (typeof cfg.model !== 'string') throw bad('model');
  if (typeof t?.global?.size !== 'number') throw bad('transforms.global.size');
  if (!isNumberArray(t.normalize?.mean, 3)) throw bad('transforms.normalize.mean');
  if (!isNumberArray(t.normalize?.std, 3)) throw bad('transforms.normalize.std');
  const modelArgs = (cfg.model_args ?? {}) as ModelArgs;
  return {
    method: cfg.method,
    model: cfg.model,
    modelArgs,
    backbone: methodNamed(cfg.method, `checkpoint ${dir}: method`).model({ ...cfg, model_args: modelArgs } as PretrainConfig),
    globalSize: t.global.size,
    mean: t.normalize.mean,
    std: t.normalize.std,
    step: typeof state.step === 'number' ? state.step : 0,
  };
}

/** A UserError naming the first problems when `tensors` lacks a backbone tensor or holds it in another shape. */
export function pickBackboneTensors(
  model: BackboneModel,
  lookup: (name: string) => { shape: readonly number[]; values: Float32Array | undefined; dtype: string } | undefined,
  where: string,
  keyOf: (name: string) => string = (n) => n,
): Map<string, SerializedTensor> {
  const out = new Map<string, SerializedTensor>();
  const problems: string[] = [];
  for (const p of model.spec().filter((s) => model.isExportKey(s.name))) {
    const key = keyOf(p.name);
    const t = lookup(key);
    if (!t) problems.push(`'${key}' is missing`);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      problems.push(`'${key}' has shape [${t.shape}], ${model.name} needs [${p.shape}]`);
    } else if (!t.values) problems.push(`'${key}' has dtype ${t.dtype}, not a number type`);
    else out.set(p.name, { shape: p.shape, data: t.values });
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    throw new UserError(`${where} does not fit ${model.name}: ${shown}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`);
  }
  return out;
}

/** Reads a checkpoint's backbone; `part` defaults to the teacher for DINO/DINOv2 and the student otherwise. */
export async function readCheckpointBackbone(checkpoint: string, part?: BackbonePart): Promise<CheckpointBackbone> {
  const dir = await checkpointDir(checkpoint.replace(/(.)[\\/]+$/, '$1'));
  const info = await readCheckpointRunInfo(dir);
  const backbone = info.backbone;
  const chosen = part ?? defaultPart(info.method);
  const modelFile = join(dir, 'model.safetensors');
  if (!(await statOrUndefined(modelFile))) throw new UserError(`checkpoint ${dir} is incomplete: model.safetensors is missing`);
  const file = await readSafetensors(modelFile);
  const prefix = `${chosen}.`;
  if (![...file.tensors.keys()].some((k) => k.startsWith(prefix))) {
    const parts = BACKBONE_PARTS.filter((p) => [...file.tensors.keys()].some((k) => k.startsWith(`${p}.`)));
    throw new UserError(`checkpoint ${dir} (${info.method}) has no ${chosen} network; it holds: ${parts.join(', ') || 'no backbone'}`);
  }
  const tensors = pickBackboneTensors(
    backbone,
    (key) => {
      const t = file.tensors.get(key);
      return t && { shape: t.shape, values: toFloat32(t), dtype: t.dtype };
    },
    `checkpoint ${dir}`,
    (name) => prefix + name,
  );
  return { ...info, dir, part: chosen, backbone, weights: { model: backbone.name, tensors } };
}
