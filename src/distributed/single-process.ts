// The communicator of a run without MPI: one rank, collectives are identities. Callers never branch on MPI's presence.

import type { Communicator, GatherArray, ReduceArray } from './communicator.js';

export class SingleProcessCommunicator implements Communicator {
  readonly kind = 'single-process';
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly localSize = 1;

  allreduceSum(_buf: ReduceArray): void {}

  allreduceMax(_buf: ReduceArray): void {}

  allreduceMin(_buf: ReduceArray): void {}

  allgather<T extends GatherArray>(send: T, recv: T): void {
    this.allgatherv(send, recv, [send.length]);
  }

  allgatherv<T extends GatherArray>(send: T, recv: T, counts: readonly number[]): void {
    if (counts.length !== 1 || counts[0] !== send.length || recv.length !== send.length) {
      throw new RangeError(`allgatherv: one rank sends ${send.length} elements into ${recv.length} (counts ${counts.join(',')})`);
    }
    recv.set(send);
  }

  broadcast(_buf: ArrayBufferView, root = 0): void {
    if (root !== 0) throw new RangeError(`root ${root} out of 0..0`);
  }

  broadcastString(value: string, root = 0): string {
    if (root !== 0) throw new RangeError(`root ${root} out of 0..0`);
    return value;
  }

  allgatherStrings(value: string): string[] {
    return [value];
  }

  barrier(): void {}

  abort(code: number): never {
    process.exit(code);
  }

  finalize(): void {}
}
