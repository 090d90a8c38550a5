// Files only rank 0 reads (a checkpoint to resume from, weights to start from) reach every rank as bytes, so a job
// whose machines do not share a file system resumes like one whose machines do, and every rank parses the same bytes.
import type { Communicator } from './communicator.js';

/** `read()` on rank 0, its buffers on every rank (a collective; a failure on rank 0 is rank 0's to report). */
export async function shareFromRankZero(comm: Communicator, read: () => Promise<Uint8Array[]>): Promise<Uint8Array[]> {
  if (comm.size === 1) return read();
  const parts = comm.rank === 0 ? await read() : [];
  const count = Float64Array.of(parts.length);
  comm.broadcast(count, 0);
  const lengths = Float64Array.from({ length: count[0] }, (_, i) => parts[i]?.byteLength ?? 0);
  comm.broadcast(lengths, 0);
  return Array.from(lengths, (n, i) => {
    const buf = comm.rank === 0 ? parts[i] : new Uint8Array(n);
    comm.broadcast(buf, 0);
    return buf;
  });
}
