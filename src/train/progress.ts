// A one-line progress bar on a TTY; nothing off a TTY (the periodic log lines stand in for it there).

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  imagesPerSec: number;
}

export class Progress {
  private readonly tty = !!process.stderr.isTTY;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(private readonly startStep: number) {}

  update(p: ProgressInfo): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 200 && p.step < p.total) return;
    this.lastDraw = now;
    const width = 24;
    const done = Math.round((width * p.step) / p.total);
    const stepsDone = p.step - this.startStep;
    const secsPerStep = stepsDone > 0 ? (now - this.started) / 1000 / stepsDone : 0;
    const eta = formatDuration(secsPerStep * (p.total - p.step));
    const line =
      `[${'#'.repeat(done)}${'.'.repeat(width - done)}] step ${p.step}/${p.total}` +
      `  loss ${p.loss.toFixed(4)}  ${p.imagesPerSec.toFixed(1)} img/s  ETA ${eta}`;
    process.stderr.write(`\r${line.padEnd((process.stderr.columns ?? 100) - 1).slice(0, (process.stderr.columns ?? 100) - 1)}`);
  }

  /** Clears the bar so a log line can be printed cleanly. */
  clear(): void {
    if (this.tty) process.stderr.write(`\r${' '.repeat((process.stderr.columns ?? 100) - 1)}\r`);
  }

  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs) || secs <= 0) return '--';
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = Math.floor(secs % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}
