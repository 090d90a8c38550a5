/** Number of elements of a tensor of this (concrete) shape; 1 for a scalar. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
