// Human-readable durations and a plain remaining-time estimate for progress lines.

/** `42s`, `3m07s`, `2h05m`; `--` for an unknown (negative or non-finite) duration. */
export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return '--';
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = Math.floor(secs % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** Seconds left at the average pace so far; NaN until something is done, 0 when nothing remains. */
export function etaSeconds(elapsedSecs: number, done: number, remaining: number): number {
  if (remaining <= 0) return 0;
  return done > 0 && elapsedSecs > 0 ? (elapsedSecs / done) * remaining : NaN;
}
