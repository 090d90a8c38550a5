// Progress lines on stderr: one rewritten line on a terminal, a line every few seconds otherwise.

export interface ProgressLine {
  update(done: number, total: number, extra?: string): void;
  finish(message?: string): void;
}

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const tty = !!stream.isTTY;
  const start = Date.now();
  let lastPrint = 0;
  let lastText = '';
  const text = (done: number, total: number, extra?: string) => {
    const secs = (Date.now() - start) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    return `${label}: ${done}/${total} (${pct}%) ${rate.toFixed(1)} images/s${extra ? `, ${extra}` : ''}`;
  };
  return {
    update(done, total, extra) {
      const now = Date.now();
      if (tty) {
        if (now - lastPrint < 100 && done < total) return;
        lastText = text(done, total, extra);
        stream.write(`\r${lastText}\x1b[K`);
      } else {
        if (now - lastPrint < 5000 && done < total) return;
        lastText = text(done, total, extra);
        stream.write(`${lastText}\n`);
      }
      lastPrint = now;
    },
    finish(message) {
      if (tty && lastText) stream.write('\n');
      if (message) stream.write(`${message}\n`);
    },
  };
}
