// Human-readable and JSON forms of an evaluation.
import type { ModelEvaluation } from './evaluate-model.js';

const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(2)}%`);

export function formatEvaluation(r: ModelEvaluation): string {
  const lines = [
    `classes: ${r.numClasses} (${r.classes.slice(0, 8).join(', ')}${r.classes.length > 8 ? ', ...' : ''}), chance ${pct(1 / r.numClasses)}`,
    `images: ${r.trainSize} train, ${r.valSize} val${r.skipped.train + r.skipped.val ? ` (skipped unreadable: ${r.skipped.train} train, ${r.skipped.val} val)` : ''}`,
    `kNN (k=${r.k}, T=${r.T}): top-1 ${pct(r.knnTop1)}${r.knnTop5 !== undefined ? `, top-5 ${pct(r.knnTop5)}` : ''}`,
  ];
  if (r.linearTop1 !== undefined) {
    lines.push(
      `linear probe (weight decay ${r.linear?.weightDecay}): top-1 ${pct(r.linearTop1)}${r.linearTop5 !== undefined ? `, top-5 ${pct(r.linearTop5)}` : ''}`,
    );
  }
  return lines.join('\n');
}

export function evaluationJson(r: ModelEvaluation): Record<string, unknown> {
  return {
    knn: { k: r.k, temperature: r.T, top1: r.knnTop1, top5: r.knnTop5 ?? null },
    linear: r.linear ? { top1: r.linear.top1, top5: r.linear.top5 ?? null, weightDecay: r.linear.weightDecay, selection: r.linear.selection } : null,
    classes: r.classes,
    trainSize: r.trainSize,
    valSize: r.valSize,
    skipped: r.skipped,
    emptyClasses: r.emptyClasses,
    model: { method: r.info.method ?? null, model: r.info.model ?? null, dinotrainVersion: r.info.dinotrainVersion ?? null, imageSize: [r.info.height, r.info.width] },
    providers: r.providers,
    seconds: { embed: r.timing.embedMs / 1000, eval: r.timing.evalMs / 1000 },
  };
}
