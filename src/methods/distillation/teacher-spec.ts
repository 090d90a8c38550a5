// What the distillation needs to know about its teacher, resolved from the file and `method_args` before anything
// runs: the input it takes (name, size, normalisation) and which outputs give the global embedding and the patch
// features, with their widths. Anything left to 'auto' comes from the model's metadata (dinotrain's exports carry
// image_size, mean, std, patch_size), then from its fixed input shape, then from the run's view size and ImageNet
// statistics; the resolved values are written to config.json.
import { IMAGENET_NORMALIZE } from '../../config/transforms.js';
import type { OnnxDim, OnnxValueInfo } from '../../formats/onnx-io.js';
import { modelOverrides, type ModelArgs } from '../../models/overrides.js';
import { getModel } from '../../models/registry.js';
import { UserError } from '../../util/errors.js';
import type { DistillationArgs } from './index.js';
import { readTeacherFile, type TeacherFile } from './teacher-file.js';

export type Rgb = [number, number, number];

export interface TeacherOutput {
  name: string;
  /** feature width */
  dim: number;
  /** dense features as tokens [N, T, D] (a ViT) or as a feature map [N, D, h, w] (a CNN) */
  layout?: 'tokens' | 'map';
}

export interface TeacherSpec {
  file: TeacherFile;
  /** safetensors teachers: the dinotrain model their weights are loaded into, and its size overrides */
  model?: string;
  modelArgs?: ModelArgs;
  input: string;
  size: [number, number];
  mean: Rgb;
  std: Rgb;
  patchSize?: number;
  /** the model's batch dimension when it is a fixed number */
  fixedBatch?: number;
  global?: TeacherOutput;
  dense?: TeacherOutput;
  /** what was assumed, shown once when the run starts */
  notes: string[];
}

const fixed = (d: OnnxDim | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
const showShape = (v: OnnxValueInfo) => `${v.name} [${v.shape?.map(String).join(', ') ?? '?'}]`;

function parseRgb(raw: string | undefined, key: string, where: string): Rgb | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new UserError(`${where}: metadata ${key} must be 3 numbers, got '${raw}'; set method_args.teacher_${key}`);
  }
  return v as Rgb;
}

function pickInput(file: TeacherFile, where: string): OnnxValueInfo {
  const inputs = file.io!.inputs;
  const input = inputs.length === 1 ? inputs[0] : inputs.find((i) => i.name === 'images' || i.name === 'pixel_values');
  if (!input) throw new UserError(`${where}: takes ${inputs.length} inputs (${inputs.map(showShape).join(', ')}); a teacher takes one image batch [N, 3, H, W]`);
  const s = input.shape;
  if (s && (s.length !== 4 || (fixed(s[1]) !== undefined && s[1] !== 3))) {
    throw new UserError(`${where}: input ${showShape(input)} is not an image batch [N, 3, H, W]`);
  }
  return input;
}

/** The output for the global or dense features: the one named, else dinotrain's name, else the only output of that rank. */
function pickOutput(file: TeacherFile, which: 'global' | 'dense', named: string | undefined, where: string, notes: string[]): TeacherOutput {
  const outputs = file.io!.outputs;
  const conventional = which === 'global' ? 'embedding' : 'patch_tokens';
  const ranks = which === 'global' ? [2] : [3, 4];
  let out = outputs.find((o) => o.name === (named ?? conventional));
  if (!out && named === undefined) {
    const candidates = outputs.filter((o) => o.shape && ranks.includes(o.shape.length));
    if (candidates.length === 1) {
      out = candidates[0];
      notes.push(`teacher ${which} features: output ${showShape(out)}`);
    }
  }
  if (!out) {
    throw new UserError(
      `${where}: no output ${named ? `'${named}'` : `'${conventional}'`} for the ${which} features (outputs: ${outputs.map(showShape).join(', ')}); ` +
        `name it with method_args.teacher_outputs.${which}${which === 'dense' ? ", or train on the global features alone (method_args.variant: global)" : ''}`,
    );
  }
  const s = out.shape;
  if (!s || !ranks.includes(s.length)) {
    throw new UserError(`${where}: output ${showShape(out)} is not ${which === 'global' ? 'an embedding [N, D]' : 'patch tokens [N, T, D] or a feature map [N, D, h, w]'}`);
  }
  const layout = which === 'global' ? undefined : s.length === 3 ? 'tokens' : 'map';
  const dim = fixed(layout === 'map' ? s[1] : s[s.length - 1]);
  if (dim === undefined) throw new UserError(`${where}: output ${showShape(out)} has no fixed feature width; the student's projection head needs one`);
  return { name: out.name, dim, layout };
}

/** The teacher's contract for a run whose views are `viewSize` px. */
export function teacherSpec(args: DistillationArgs, viewSize: number): TeacherSpec {
  if (!args.teacher) throw new UserError('distillation needs a teacher: --teacher MODEL.onnx (or a .safetensors file with --teacher-model)');
  const file = readTeacherFile(args.teacher);
  const where = `--teacher ${args.teacher}`;
  const notes: string[] = [];
  const wants = { global: args.variant !== 'dense', dense: args.variant !== 'global' };
  const userSize = args.teacher_image_size === 'auto' ? undefined : args.teacher_image_size;

  if (file.kind === 'safetensors') {
    if (!args.teacher_model) throw new UserError(`${where}: a safetensors teacher needs its architecture: --teacher-model (e.g. vit-base/14)`);
    const model = getModel(args.teacher_model, modelOverrides(args.teacher_model_args));
    if (wants.dense && model.kind !== 'vit') {
      throw new UserError(`--teacher-model ${model.name} gives no patch features; use a ViT teacher or method_args.variant: global`);
    }
    let size = userSize ?? viewSize;
    if (model.patchSize && size % model.patchSize !== 0) size = Math.max(model.patchSize, Math.floor(size / model.patchSize) * model.patchSize);
    const mean = args.teacher_mean === 'auto' ? IMAGENET_NORMALIZE.mean : args.teacher_mean;
    const std = args.teacher_std === 'auto' ? IMAGENET_NORMALIZE.std : args.teacher_std;
    return {
      file, model: model.name, modelArgs: args.teacher_model_args, input: 'images', size: [size, size], mean, std, patchSize: model.patchSize, notes,
      global: wants.global ? { name: 'embedding', dim: model.embedDim } : undefined,
      dense: wants.dense ? { name: 'patch_tokens', dim: model.embedDim, layout: 'tokens' } : undefined,
    };
  }

  if (args.teacher_model) throw new UserError(`--teacher-model is for a .safetensors teacher; ${where} is an ONNX model, which holds its architecture`);
  const meta = file.metadata;
  const input = pickInput(file, where);
  const fixedH = fixed(input.shape?.[2]);
  const fixedW = fixed(input.shape?.[3]);
  const patch = meta.patch_size !== undefined && Number.isInteger(Number(meta.patch_size)) ? Number(meta.patch_size) : undefined;
  let size: [number, number];
  if (userSize !== undefined) size = [userSize, userSize];
  else if (meta.image_size !== undefined && Number.isInteger(Number(meta.image_size))) size = [Number(meta.image_size), Number(meta.image_size)];
  else if (fixedH && fixedW) size = [fixedH, fixedW];
  else {
    const s = patch && viewSize % patch !== 0 ? Math.max(patch, Math.floor(viewSize / patch) * patch) : viewSize;
    size = [s, s];
    notes.push(`teacher input ${s}x${s} px (the views' size; set method_args.teacher_image_size for another)`);
  }
  if ((fixedH && fixedH !== size[0]) || (fixedW && fixedW !== size[1])) {
    throw new UserError(`${where}: its input is fixed at ${fixedH}x${fixedW} px, but method_args.teacher_image_size is ${size[0]}`);
  }
  const pick = (key: 'mean' | 'std'): Rgb => {
    const set = args[`teacher_${key}`];
    if (set !== 'auto') return set;
    const fromMeta = parseRgb(meta[key], key, where);
    if (fromMeta) return fromMeta;
    notes.push(`teacher ${key}: ImageNet's (the model has no ${key} metadata; set method_args.teacher_${key} for another)`);
    return IMAGENET_NORMALIZE[key];
  };
  const mean = pick('mean');
  const std = pick('std');
  if (std.some((s) => s <= 0)) throw new UserError(`${where}: std must be positive, got [${std.join(', ')}]`);
  return {
    file, input: input.name, size, mean, std, patchSize: patch, fixedBatch: fixed(input.shape?.[0]), notes,
    global: wants.global ? pickOutput(file, 'global', args.teacher_outputs.global, where, notes) : undefined,
    dense: wants.dense ? pickOutput(file, 'dense', args.teacher_outputs.dense, where, notes) : undefined,
  };
}
