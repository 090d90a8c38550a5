// A write-only view of an output stream for progress output: a write that throws or a stream 'error' event (EPIPE,
// EIO from a closed terminal) switches it off for good instead of reaching the caller. The error listener stays for
// the life of the stream: an error from a write made just before the end would otherwise be unhandled.

/** `stream.columns` when it is a positive integer, else 80 (pseudo-terminals may report 0 or nothing). */
export function terminalWidth(stream: { columns?: unknown }): number {
  try {
    const c = stream.columns;
    return typeof c === 'number' && Number.isInteger(c) && c > 0 ? c : 80;
  } catch {
    return 80;
  }
}

export class GuardedStream {
  readonly isTTY: boolean;
  private broken = false;
  private readonly onError = (e: unknown) => this.fail(e);

  constructor(
    private readonly target: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly onFail?: (e: unknown) => void,
  ) {
    this.isTTY = target.isTTY === true;
    try {
      target.on('error', this.onError);
    } catch {
      // a stream without events: thrown writes are still caught
    }
  }

  get failed(): boolean {
    return this.broken;
  }

  get columns(): number {
    return terminalWidth(this.target);
  }

  write(chunk: string): boolean {
    if (this.broken) return true;
    try {
      this.target.write(chunk);
    } catch (e) {
      this.fail(e);
    }
    return true;
  }

  fail(e: unknown): void {
    if (this.broken) return;
    this.broken = true;
    try {
      this.onFail?.(e);
    } catch {
      // the stream is off either way
    }
  }
}
