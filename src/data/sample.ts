// One dataset sample -> all its views, with randomness derived only from (seed, epoch, position),
// so a sample's views never depend on which other samples were decoded first.
import type { TransformsConfig } from '../config/transforms.js';
import { Rng } from '../util/rng.js';
import type { RgbImage } from './image.js';
import { renderView, type ViewRecord, type ViewSpec } from './views.js';

// Salts that separate the independent random streams derived from the run's seed.
export const STREAM_SAMPLES = 1;
export const STREAM_SHUFFLE = 2;
export const STREAM_MASKS = 3;

/** The generator for sample `position` (its place in the epoch's order) of `epoch`. */
export function sampleRng(seed: number, epoch: number, position: number): Rng {
  return new Rng(seed >>> 0).fork(STREAM_SAMPLES).fork(epoch).fork(position);
}

/**
 * Writes every view of `img` into slot `slot` of the per-view batch tensors `outputs[v]`
 * ([B, 3, S_v, S_v]). Each view gets its own child generator so views are independent streams.
 */
export function renderSample(
  img: RgbImage,
  specs: readonly ViewSpec[],
  t: TransformsConfig,
  rng: Rng,
  outputs: readonly Float32Array[],
  slot: number,
): ViewRecord[] {
  const records: ViewRecord[] = [];
  for (let v = 0; v < specs.length; v++) {
    const len = 3 * specs[v].size * specs[v].size;
    const out = outputs[v].subarray(slot * len, (slot + 1) * len);
    records.push(renderView(img, specs[v], t, rng.fork(v), out));
  }
  return records;
}
