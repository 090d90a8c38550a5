// `pretrain --val-data train=DIR,val=DIR`: every `val_data.every` steps, the current backbone (the part pretrain
// exports: DINO's teacher, SimCLR's student) is exported to ONNX in memory and the labelled folders are embedded and
// classified by kNN, as `dinotrain eval --no-linear` would on an export taken at that step.
import type { Logger } from 'pino';
import type { PretrainConfig } from '../config/schema.js';
import { openBackbone } from '../embed/backbone.js';
import { embedFiles } from '../embed/embed-files.js';
import { evaluateEmbeddings } from '../eval/evaluate-embeddings.js';
import { listLabelledImages, type LabelledFiles } from '../eval/labelled-folder.js';
import { backboneOnnx } from '../export/onnx.js';
import type { TrainingMethod } from '../methods/method.js';
import type { BackbonePart } from '../models/weights.js';
import { UserError } from '../util/errors.js';

export interface PeriodicEval {
  /** steps between evals (0: no eval configured) */
  readonly every: number;
  /** what it will do, for the log (null without val_data) */
  readonly summary: { text: string; fields: Record<string, unknown> } | null;
  /** runs the eval when `step` is a multiple of `every`; otherwise (or without val_data) resolves to null */
  maybeRun(step: number, method: TrainingMethod, log: EvalLog): Promise<Record<string, number> | null>;
  /** runs the eval now (e.g. after the last step); null without val_data */
  run(step: number, method: TrainingMethod, log: EvalLog): Promise<Record<string, number> | null>;
}

type EvalLog = Pick<Logger, 'info' | 'warn'>;

function labelsOfKept(kept: string[], all: LabelledFiles): number[] {
  const byFile = new Map(all.files.map((f, i) => [f, all.labels[i]]));
  return kept.map((f) => byFile.get(f)!);
}

/** Lists the labelled folders now (a bad folder fails before training starts) and returns the eval of `part`. */
export async function createPeriodicEval(cfg: PretrainConfig, part: BackbonePart): Promise<PeriodicEval> {
  const v = cfg.val_data;
  if (!v) return { every: 0, summary: null, maybeRun: async () => null, run: async () => null };
  const train = await listLabelledImages(v.train, 'val_data.train');
  if (train.classes.length < 2) throw new UserError(`val_data.train: need at least 2 classes with images, found ${train.classes.length} in ${v.train}`);
  const val = await listLabelledImages(v.val, 'val_data.val', train.classes);
  const summary = {
    fields: { valData: { train: train.files.length, val: val.files.length, classes: train.classes.length, every: v.every, k: v.k } },
    text: `kNN eval every ${v.every} steps on ${train.files.length} train / ${val.files.length} val images in ${train.classes.length} classes`,
  };

  const run = async (step: number, method: TrainingMethod, log: EvalLog): Promise<Record<string, number>> => {
    const t0 = performance.now();
    const w = method.backbone(part);
    const bytes = backboneOnnx(method.model, w.tensors, {
      imageSize: cfg.transforms.global.size,
      method: cfg.method,
      mean: cfg.transforms.normalize.mean,
      std: cfg.transforms.normalize.std,
    });
    const backbone = await openBackbone(bytes, { device: cfg.device, threads: cfg.threads });
    let trainEmb, valEmb;
    try {
      const onSkip = (s: { file: string; reason: string }) => log.warn(`kNN eval: skipped ${s.file}: ${s.reason}`);
      trainEmb = await embedFiles(backbone, v.train, train.files, { batchSize: cfg.batch_size, onSkip });
      valEmb = await embedFiles(backbone, v.val, val.files, { batchSize: cfg.batch_size, onSkip });
    } finally {
      await backbone.release();
    }
    if (trainEmb.files.length === 0 || valEmb.files.length === 0) throw new UserError('kNN eval: none of the labelled images could be read');
    const r = await evaluateEmbeddings(
      { data: trainEmb.data, dim: trainEmb.dim },
      labelsOfKept(trainEmb.files, train),
      { data: valEmb.data, dim: valEmb.dim },
      labelsOfKept(valEmb.files, val),
      { k: v.k, linear: false, numClasses: train.classes.length },
    );
    const metrics: Record<string, number> = { knn_top1: r.knnTop1 };
    if (r.knnTop5 !== undefined) metrics.knn_top5 = r.knnTop5;
    const seconds = (performance.now() - t0) / 1000;
    log.info(
      { step, ...metrics, evalSeconds: seconds },
      `kNN eval at step ${step}: top-1 ${(100 * r.knnTop1).toFixed(1)}%` +
        `${r.knnTop5 !== undefined ? `, top-5 ${(100 * r.knnTop5).toFixed(1)}%` : ''} (k=${r.k}, ${seconds.toFixed(1)} s)`,
    );
    return metrics;
  };

  return {
    every: v.every,
    summary,
    run,
    maybeRun: async (step, method, log) => (step > 0 && step % v.every === 0 ? run(step, method, log) : null),
  };
}
