// Moving a batch's views into the contiguous tensors a training graph takes, and per-step random inputs.
import type { Batch } from '../data/loader.js';
import type { Communicator } from '../distributed/communicator.js';
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

/** Which samples of the whole (global) batch this process holds: `size` of `whole`, from `offset`. */
export interface BatchPart {
  size: number;
  whole: number;
  offset: number;
}

/** This process's part of a batch of `size` samples, in a job of `comm.size` equal parts. */
export const batchPart = (size: number, comm: Communicator): BatchPart => ({ size, whole: size * comm.size, offset: comm.rank * size });

/**
 * Keep masks for every drop-path slot of a backbone, for a forward of `views` views (view-major) of this process's
 * part of the batch. They are drawn for the whole batch and cut to the part, so a data-parallel job drops the same
 * paths of the same samples as one process would.
 */
export function dropPathMasks(model: BackboneModel, rate: number, views: number, part: BatchPart, rng: Rng, uniform = false): Float32Array[] {
  if (rate <= 0 || model.dropPathSlots === 0) return [];
  const rates = dropPathRates(model.dropPathSlots / 2, rate, uniform);
  const draw = (r: number) => {
    const all = sampleKeepMask(rng, views * part.whole, r);
    if (part.whole === part.size) return all;
    const mine = new Float32Array(views * part.size);
    for (let v = 0; v < views; v++) mine.set(all.subarray(v * part.whole + part.offset, v * part.whole + part.offset + part.size), v * part.size);
    return mine;
  };
  return rates.flatMap((r) => [draw(r), draw(r)]);
}
