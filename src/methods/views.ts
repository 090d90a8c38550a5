// Moving a batch's views into the contiguous tensors a training graph takes, and per-step random inputs.
import type { Batch } from '../data/loader.js';
import { dropPathRates, sampleKeepMask } from '../models/layers/drop-path.js';
import type { BackboneModel } from '../models/registry.js';
import type { Rng } from '../util/rng.js';

/** Copies views [first, first+count) of a batch into one [count·B, 3, S, S] buffer (view-major), reusing `out`. */
export function stackViews(batch: Batch, first: number, count: number, out?: Float32Array): Float32Array {
  const per = batch.views[first].length;
  const need = per * count;
  const buf = out && out.length === need ? out : new Float32Array(need);
  for (let v = 0; v < count; v++) buf.set(batch.views[first + v], v * per);
  return buf;
}

/** Keep masks for every drop-path slot of a backbone, for a forward of `n` samples. */
export function dropPathMasks(model: BackboneModel, rate: number, n: number, rng: Rng, uniform = false): Float32Array[] {
  if (rate <= 0 || model.dropPathSlots === 0) return [];
  const rates = dropPathRates(model.dropPathSlots / 2, rate, uniform);
  return rates.flatMap((r) => [sampleKeepMask(rng, n, r), sampleKeepMask(rng, n, r)]);
}
