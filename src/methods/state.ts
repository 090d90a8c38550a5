// Restoring a method from a checkpoint: every tensor of the checkpoint goes into the live tensor of the same name
// and shape, and every live tensor gets a value; anything else is a StateMismatch that lists the differences, so a
// resume never continues with a model that is not the one that was saved.
import type { SerializedTensor } from '../models/weights.js';
import { UserError } from '../util/errors.js';

export interface TensorSource {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number> | BigInt64Array | BigUint64Array;
  readonly dtype?: string;
}

export interface StateDifferences {
  /** in the method, not in the checkpoint */
  missing: string[];
  /** in the checkpoint, not in the method */
  unexpected: string[];
  /** in both with another shape: 'name [saved] vs [now]' */
  reshaped: string[];
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** How the checkpoint's tensor names and shapes differ from the method's. */
export function stateDifferences(live: ReadonlyMap<string, { shape: readonly number[] }>, saved: ReadonlyMap<string, { shape: readonly number[] }>): StateDifferences {
  const d: StateDifferences = { missing: [], unexpected: [], reshaped: [] };
  for (const [name, t] of live) {
    const s = saved.get(name);
    if (!s) d.missing.push(name);
    else if (!sameShape(s.shape, t.shape)) d.reshaped.push(`${name} [${s.shape}] vs [${t.shape}]`);
  }
  for (const name of saved.keys()) if (!live.has(name)) d.unexpected.push(name);
  return d;
}

export const hasDifferences = (d: StateDifferences) => d.missing.length + d.unexpected.length + d.reshaped.length > 0;

export function describeDifferences(d: StateDifferences, max = 6): string {
  const list = (label: string, names: string[]) =>
    names.length ? [`${label}: ${names.slice(0, max).join(', ')}${names.length > max ? `, ... (${names.length} in all)` : ''}`] : [];
  return [...list('not in the checkpoint', d.missing), ...list('only in the checkpoint', d.unexpected), ...list('other shape (saved vs now)', d.reshaped)].join('; ');
}

export class StateMismatch extends UserError {
  constructor(
    readonly differences: StateDifferences,
    what: string,
  ) {
    super(`${what} does not match the model: ${describeDifferences(differences)}`);
  }
}

/** Copies every saved tensor into the live one of the same name; a StateMismatch when names or shapes differ. */
export function restoreState(live: ReadonlyMap<string, SerializedTensor>, saved: ReadonlyMap<string, TensorSource>, what = 'the checkpoint'): void {
  const d = stateDifferences(live, saved);
  if (hasDifferences(d)) throw new StateMismatch(d, what);
  for (const [name, t] of live) {
    const s = saved.get(name)!;
    if (s.data instanceof BigInt64Array || s.data instanceof BigUint64Array) throw new UserError(`${what}: tensor '${name}' is an integer tensor, expected float32`);
    t.data.set(s.data);
  }
}
