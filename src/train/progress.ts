// A one-line progress bar on a TTY (step, epoch, loss, speed, elapsed time, ETA); nothing off a TTY (the periodic
// log lines stand in for it there). A display failure turns the bar off and never reaches the training loop.
import { etaSeconds, formatDuration } from '../util/duration.js';
import { TerminalBar, withBar } from '../util/terminal-progress.js';

export { formatDuration };

export interface ProgressInfo {
  step: number;
  total: number;
  loss: number;
  imagesPerSec: number;
  epoch?: number;
}

export class Progress {
  private readonly bar: TerminalBar | null = null;
  private readonly started = Date.now();

  constructor(
    private readonly startStep: number,
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    try {
      if (stream.isTTY === true) this.bar = new TerminalBar(stream, { fps: 5 });
    } catch {
      // no bar
    }
  }

  update(p: ProgressInfo): void {
    this.bar?.show(p.step, p.total, (bar, width) => withBar(bar, this.text(p), width));
  }

  /** Clears the bar so a log line can be printed cleanly. */
  clear(): void {
    this.bar?.clear();
  }

  done(): void {
    this.bar?.finish();
  }

  private text(p: ProgressInfo): string {
    const secs = (Date.now() - this.started) / 1000;
    const eta = etaSeconds(secs, p.step - this.startStep, p.total - p.step);
    return (
      `step ${p.step}/${p.total}${p.epoch !== undefined ? `  epoch ${p.epoch}` : ''}` +
      `  loss ${p.loss.toFixed(4)}  ${p.imagesPerSec.toFixed(1)} img/s` +
      `  elapsed ${formatDuration(secs)}  ETA ${formatDuration(eta)}`
    );
  }
}
