// Progress lines on stderr: one rewritten line on a terminal, a line every few seconds otherwise (or once the
// terminal line has failed). Each line has the rate, the elapsed time and an ETA; no display failure is thrown.
import { etaSeconds, formatDuration } from '../util/duration.js';
import { GuardedStream } from '../util/guarded-stream.js';
import { TerminalBar, withBar } from '../util/terminal-progress.js';

export interface ProgressLine {
  update(done: number, total: number, extra?: string): void;
  finish(message?: string): void;
}

const PLAIN_EVERY_MS = 5000;

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const start = Date.now();
  let plainOut: GuardedStream | null = null;
  const plain = (line: string) => (plainOut ??= new GuardedStream(stream)).write(`${line}\n`);
  let bar: TerminalBar | null = null;
  try {
    if (stream.isTTY === true) bar = new TerminalBar(stream, { fps: 10 });
  } catch {
    // plain lines
  }
  let lastPlain = 0;

  const text = (done: number, total: number, extra?: string) => {
    const secs = (Date.now() - start) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    const eta = formatDuration(etaSeconds(secs, done, total - done));
    return (
      `${label}: ${done}/${total} (${pct}%) ${rate.toFixed(1)} images/s${extra ? `, ${extra}` : ''}` +
      `, elapsed ${formatDuration(secs)}, ETA ${eta}`
    );
  };

  return {
    update(done, total, extra) {
      if (bar?.usable) {
        bar.show(done, total, (drawn, width) => withBar(drawn, text(done, total, extra), width));
        if (bar.usable) return;
      }
      const now = Date.now();
      if (now - lastPlain < PLAIN_EVERY_MS && done < total) return;
      lastPlain = now;
      try {
        plain(text(done, total, extra));
      } catch {
        // text() on odd input: skip the line
      }
    },
    finish(message) {
      bar?.finish();
      if (message) plain(message);
    },
  };
}
