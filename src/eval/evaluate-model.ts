// The pipeline behind `dinotrain eval`: embed a labelled train and val folder with one backbone
// session, then kNN and linear-probe accuracy.
import type { BackboneInfo } from '../embed/backbone-info.js';
import { checkModelPath, openBackbone, type OpenBackboneOptions } from '../embed/backbone.js';
import { embedFiles, type EmbedFilesOptions, type Embeddings } from '../embed/embed-files.js';
import { UserError } from '../util/errors.js';
import { evaluateEmbeddings, type EvaluateOptions, type EvaluationResult } from './evaluate-embeddings.js';
import { listLabelledImages } from './labelled-folder.js';

export interface EvaluateModelOptions extends OpenBackboneOptions, Omit<EmbedFilesOptions, 'onProgress'>, EvaluateOptions {
  onProgress?: (split: 'train' | 'val', p: { done: number; total: number; skipped: number }) => void;
}

export interface ModelEvaluation extends EvaluationResult {
  classes: string[];
  skipped: { train: number; val: number };
  emptyClasses: string[];
  info: BackboneInfo;
  providers: string[];
  timing: { embedMs: number; evalMs: number };
}

function labelsOfKept(emb: Embeddings, files: string[], labels: number[]): number[] {
  const byFile = new Map(files.map((f, i) => [f, labels[i]]));
  return emb.files.map((f) => byFile.get(f)!);
}

export async function evaluateModel(model: Uint8Array | string, trainDir: string, valDir: string, opts: EvaluateModelOptions = {}): Promise<ModelEvaluation> {
  await checkModelPath(model);
  const train = await listLabelledImages(trainDir, '--train');
  if (train.classes.length < 2) throw new UserError(`--train: need at least 2 classes with images, found ${train.classes.length} in ${trainDir}`);
  const val = await listLabelledImages(valDir, '--val', train.classes);
  const backbone = await openBackbone(model, opts);
  const t0 = performance.now();
  let trainEmb: Embeddings;
  let valEmb: Embeddings;
  try {
    const embedOpts = { batchSize: opts.batchSize, centerCrop: opts.centerCrop, onSkip: opts.onSkip };
    trainEmb = await embedFiles(backbone, trainDir, train.files, { ...embedOpts, onProgress: (p) => opts.onProgress?.('train', p) });
    valEmb = await embedFiles(backbone, valDir, val.files, { ...embedOpts, onProgress: (p) => opts.onProgress?.('val', p) });
  } finally {
    await backbone.release();
  }
  if (trainEmb.files.length === 0) throw new UserError(`--train: none of the ${train.files.length} images could be read`);
  if (valEmb.files.length === 0) throw new UserError(`--val: none of the ${val.files.length} images could be read`);
  const t1 = performance.now();
  const result = await evaluateEmbeddings(
    { data: trainEmb.data, dim: trainEmb.dim },
    labelsOfKept(trainEmb, train.files, train.labels),
    { data: valEmb.data, dim: valEmb.dim },
    labelsOfKept(valEmb, val.files, val.labels),
    { k: opts.k, T: opts.T, linear: opts.linear, numClasses: train.classes.length },
  );
  return {
    ...result,
    classes: train.classes,
    skipped: { train: trainEmb.skipped.length, val: valEmb.skipped.length },
    emptyClasses: [...train.emptyClasses.map((c) => `train/${c}`), ...val.emptyClasses.map((c) => `val/${c}`)],
    info: backbone.info,
    providers: backbone.providers,
    timing: { embedMs: t1 - t0, evalMs: performance.now() - t1 },
  };
}
