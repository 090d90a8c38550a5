// `pretrain --init-weights FILE.safetensors`: start the backbone (student and teacher) from a backbone file with
// timm/torchvision names, such as dinotrain's own backbone.safetensors or a torchvision/timm state_dict saved as
// safetensors. Every backbone tensor must be there with the right shape; anything else in the file (a classifier
// 'fc.*' / 'head.*', ...) is ignored with a warning that lists it.
import { pickBackboneTensors } from '../export/checkpoint-backbone.js';
import { parseSafetensors, readSafetensors } from '../formats/safetensors.js';
import { toFloat32 } from '../formats/tensor-values.js';
import type { TrainingMethod } from '../methods/method.js';

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
  const tensors = pickBackboneTensors(
    model,
    (key) => {
      const t = file.tensors.get(key);
      return t && { shape: t.shape, values: toFloat32(t), dtype: t.dtype };
    },
    `--init-weights ${path}`,
  );
  const ignored = [...file.tensors.keys()].filter((k) => !tensors.has(k)).sort();
  if (ignored.length > 0) onWarning(`--init-weights ${path}: ignoring ${ignored.length} tensor(s) that are not part of the ${model.name} backbone: ${listKeys(ignored)}`);
  const from = file.metadata.model;
  if (from && from !== model.name) onWarning(`--init-weights ${path} was exported from ${from}; loading it into ${model.name} (every shape matches)`);
  method.loadBackbone(tensors);
  return { loaded: tensors.size, ignored, metadata: file.metadata };
}
