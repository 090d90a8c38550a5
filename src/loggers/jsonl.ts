import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppendFile, writeFileAtomicSync } from '../util/write-file.js';
import type { Logger } from './logger.js';

export const METRICS_FILE = 'metrics.jsonl';

export interface JsonlLoggerOptions {
  outDir: string;
  /** Resuming at this step: keep the lines with step < resumeStep, drop the rest, append. */
  resumeStep?: number;
}

/**
 * out/metrics.jsonl, one `{"step":N,...}` object per line. Every line goes to the kernel with its own
 * write call, so a process killed at any moment leaves every line it logged before the kill
 * (at worst the last one torn, which a resume drops). A failed write (a full disk) throws a FileWriteError
 * naming the file.
 */
export class JsonlLogger implements Logger {
  readonly path: string;
  private readonly file: AppendFile;

  constructor(opts: JsonlLoggerOptions) {
    mkdirSync(opts.outDir, { recursive: true });
    this.path = join(opts.outDir, METRICS_FILE);
    if (opts.resumeStep !== undefined) keepLinesBefore(this.path, opts.resumeStep);
    this.file = new AppendFile(this.path, opts.resumeStep === undefined ? 'w' : 'a');
  }

  hparams(): void {}

  scalars(step: number, values: Record<string, number>): void {
    this.file.write(`${JSON.stringify({ step, ...values })}\n`);
  }

  image(): void {}

  async close(): Promise<void> {
    this.file.close();
  }
}

/** Rewrites the file (atomically, via rename) with only its complete lines whose step < resumeStep. */
export function keepLinesBefore(path: string, resumeStep: number): void {
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const kept = complete.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    try {
      const row = JSON.parse(line) as { step?: unknown };
      return typeof row.step === 'number' && row.step < resumeStep;
    } catch {
      return false;
    }
  });
  writeFileAtomicSync(path, kept.map((l) => `${l}\n`).join(''));
}
