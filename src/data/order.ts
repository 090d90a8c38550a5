// The order in which an epoch visits the dataset: a seeded permutation, the same for a given
// (seed, epoch) wherever training (re)starts.
import { Rng } from '../util/rng.js';
import { STREAM_SHUFFLE } from './sample.js';

export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  new Rng(seed >>> 0).fork(STREAM_SHUFFLE).fork(epoch).shuffle(order);
  return order;
}
