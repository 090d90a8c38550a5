// `pretrain --init-weights FILE.safetensors`: start the backbone (student and teacher) from a backbone file with
// timm/torchvision names, such as dinotrain's own backbone.safetensors, timm's DINOv2 weights or a torchvision
// state_dict saved as safetensors. A ViT file is fitted first (models/vit-import.ts: pos_embed resampled to the
// model's grid, LayerScale and registers checked against its keys); then every backbone tensor must be there with
// the right shape; anything else in the file (a classifier 'fc.*' / 'head.*', ...) is ignored with a warning.
import { pickBackboneTensors } from '../export/checkpoint-backbone.js';
import { parseSafetensors, readSafetensors } from '../formats/safetensors.js';
import { toFloat32 } from '../formats/tensor-values.js';
import type { TrainingMethod } from '../methods/method.js';
import type { VitConfig } from '../models/vit-config.js';
import { fitVitTensors, type FileTensor } from '../models/vit-import.js';

export interface InitWeightsReport {
  /** backbone tensors loaded */
  loaded: number;
  /** keys of the file that are not backbone tensors (ignored) */
  ignored: string[];
  /** the file's __metadata__ */
  metadata: Record<string, string>;
}

function listKeys(keys: string[], max = 12): string {
  return keys.slice(0, max).join(', ') + (keys.length > max ? `, ... (${keys.length} in all)` : '');
}

export async function applyInitWeights(
  method: TrainingMethod,
  path: string,
  onWarning: (message: string) => void = () => {},
  /** the file's bytes, when they were read already (a data-parallel job's rank 0 reads it for every rank) */
  bytes?: Uint8Array,
): Promise<InitWeightsReport> {
  const file = bytes ? parseSafetensors(bytes, path) : await readSafetensors(path);
  const model = method.model;
  const where = `--init-weights ${path}`;
  const read = new Map<string, FileTensor>([...file.tensors].map(([k, t]) => [k, { shape: t.shape, values: toFloat32(t), dtype: t.dtype }]));
  const fitted = model.kind === 'vit' ? fitVitTensors(model.config as VitConfig, read, where) : { tensors: read, notes: [] };
  const tensors = pickBackboneTensors(model, (key) => fitted.tensors.get(key), where);
  const ignored = [...file.tensors.keys()].filter((k) => !tensors.has(k)).sort();
  for (const note of fitted.notes) onWarning(note);
  if (ignored.length > 0) onWarning(`${where}: ignoring ${ignored.length} tensor(s) that are not part of the ${model.name} backbone: ${listKeys(ignored)}`);
  const from = file.metadata.model;
  if (from && from !== model.name) onWarning(`${where} was exported from ${from}; loading it into ${model.name} (every shape matches)`);
  method.loadBackbone(tensors);
  return { loaded: tensors.size, ignored, metadata: file.metadata };
}
