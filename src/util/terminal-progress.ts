// One rewritten progress line on a terminal, drawn by cli-progress. Our additions: the width comes from
// GuardedStream.columns (0 or missing columns -> 80), every write goes through a GuardedStream, a failure anywhere (the
// library, the line's text, the stream) turns the bar off for the rest of the run, and the redraw timer is unref'd so
// a run that ends without finish() still exits. No signal handlers, no hidden cursor, no DECAWM toggling: a Ctrl-C
// (handled by src/train/signals.ts) leaves the terminal as it was. No cursor save/restore either: a line logged while
// the bar is up (a checkpoint message) would move the cursor off the saved row, and restoring it would draw over
// earlier lines.
import cliProgress from 'cli-progress';
import { GuardedStream } from './guarded-stream.js';

/** The line for the drawn bar and the terminal width (see withBar); it is cut to the width after. */
export type LineText = (bar: string, width: number) => string;

/** `bar text` when both fit in `width`, else the text alone. */
export function withBar(bar: string, text: string, width: number): string {
  return bar.length + 3 + text.length <= width - 1 ? `[${bar}] ${text}` : text;
}

export interface TerminalBarOptions {
  /** Redraws per second at most; the line is also redrawn on a timer so clocks in it keep moving. */
  fps?: number;
  barSize?: number;
}

class UnrefBar extends cliProgress.SingleBar {
  constructor(
    options: cliProgress.Options,
    private readonly onError: (e: unknown) => void,
  ) {
    super(options);
    this.terminal.cursorSave = this.terminal.cursorRestore = () => {};
  }

  // start(), update(), stop() and the timer all draw through here
  override render(): void {
    try {
      super.render();
    } catch (e) {
      this.onError(e);
    }
    this.timer?.unref();
  }
}

export class TerminalBar {
  private readonly out: GuardedStream;
  private readonly bar: UnrefBar;
  private text: LineText = () => '';
  private lastLine = '';
  private off = false;

  constructor(stream: NodeJS.WriteStream, opts: TerminalBarOptions = {}) {
    this.out = new GuardedStream(stream, () => this.turnOff());
    this.bar = new UnrefBar(
      {
        stream: this.out,
        format: (options, params) => {
          const width = params.maxWidth;
          this.lastLine = fit(this.text(cliProgress.Format.BarFormat(params.progress, options), width), width);
          return this.lastLine;
        },
        fps: opts.fps ?? 5,
        barsize: opts.barSize ?? 24,
        barCompleteChar: '#',
        barIncompleteChar: '.',
        hideCursor: false,
        linewrap: true,
        gracefulExit: false,
        clearOnComplete: true,
        stopOnComplete: false,
      },
      (e) => this.out.fail(e),
    );
  }

  /** False once anything failed: the caller may fall back to plain lines. */
  get usable(): boolean {
    return !this.off;
  }

  show(value: number, total: number, text: LineText): void {
    this.guard(() => {
      this.text = text;
      if (!this.bar.isActive) {
        this.bar.start(total, value);
      } else {
        this.bar.setTotal(total);
        this.bar.update(value);
      }
    });
  }

  /** Erases the line (before a log line is printed); the next show() draws it again. */
  clear(): void {
    this.guard(() => {
      if (this.bar.isActive) this.bar.stop();
    });
  }

  /** Stops the bar, leaving its last line on screen. */
  finish(): void {
    this.guard(() => {
      if (!this.bar.isActive) return;
      this.bar.stop();
      if (this.lastLine) this.out.write(`${this.lastLine}\n`);
    });
  }

  private guard(f: () => void): void {
    if (this.off) return;
    try {
      f();
    } catch (e) {
      this.out.fail(e);
    }
  }

  private turnOff(): void {
    this.off = true;
    try {
      this.bar.stop(); // clears the timer; its writes go nowhere now
    } catch {
      // the timer is unref'd, so a bar that could not stop still lets the process exit
    }
  }
}

/** One column stays free: a character in the last column leaves the cursor pending a wrap, which clear-right undoes. */
function fit(line: string, width: number): string {
  return line.length <= width - 1 ? line : line.slice(0, Math.max(0, width - 1));
}
