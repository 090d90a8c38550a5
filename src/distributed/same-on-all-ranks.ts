// A run is only data-parallel if every rank trains the same thing: the config, the file list, the resumed step.

import { UserError } from '../util/errors.js';
import type { Communicator } from './communicator.js';

/**
 * Throws the same UserError on every rank when `value` (typically a hash) differs between ranks, naming the ranks
 * that differ from rank 0. Collective: every rank must call it with the same `what`.
 */
export function assertSameOnAllRanks(comm: Communicator, what: string, value: string): void {
  const values = comm.allgatherStrings(value);
  const differing = values.flatMap((v, rank) => (v === values[0] ? [] : [rank]));
  if (differing.length === 0) return;
  const shown = differing.slice(0, 8).map((rank) => `rank ${rank}: ${values[rank]}`);
  if (differing.length > shown.length) shown.push(`${differing.length - shown.length} more`);
  throw new UserError(`${what} differs between processes (rank 0: ${values[0]}; ${shown.join('; ')})`);
}
