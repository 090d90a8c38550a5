// MPI counts are C ints, and some implementations also overflow on messages of 2 GiB or more: large transfers go
// in pieces of at most `maxChunkBytes`.

export const INT_MAX = 2 ** 31 - 1;

/** 1 GiB: far below every known int-overflow limit, and large enough that the extra calls cost nothing. */
export const DEFAULT_MAX_CHUNK_BYTES = 2 ** 30;

/** Elements of `bytesPerElement` bytes per transfer: at least 1, at most INT_MAX. */
export function chunkElements(maxChunkBytes: number, bytesPerElement: number): number {
  return Math.max(1, Math.min(INT_MAX, Math.floor(maxChunkBytes / bytesPerElement)));
}

/** [start, end) ranges covering 0..total, each at most `perChunk` long; none for total 0. */
export function chunkRanges(total: number, perChunk: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (let start = 0; start < total; start += perChunk) ranges.push([start, Math.min(total, start + perChunk)]);
  return ranges;
}
