// Comparing a fast path's numbers with a reference.

/** max|a − b| / max|b| over the whole array: per-element ratios mean nothing where cancelling terms round to ~0. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let md = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    md = Math.max(md, Math.abs(a[i] - b[i]));
    mb = Math.max(mb, Math.abs(b[i]));
  }
  return md / Math.max(mb, 1e-30);
}
