import { UserError } from '../util/errors.js';
import { FileWriteError } from '../util/write-file.js';
import type { Logger } from './logger.js';

interface Member {
  name: string;
  logger: Logger;
  errors: number;
}

/**
 * Sends every call to each logger. A logger that throws costs a warning (the first error, and a
 * count at close), never the training run; only a UserError from hparams() (e.g. a rejected W&B key)
 * propagates, since it comes before the first step, and so does a FileWriteError: a metrics file that
 * can no longer be written (a full disk) stops the run with one line naming it rather than leave a hole.
 */
export class FanoutLogger implements Logger {
  private readonly members: Member[];
  private closed = false;

  constructor(
    loggers: Array<{ name: string; logger: Logger }>,
    private readonly onWarning: (message: string) => void,
  ) {
    this.members = loggers.map(({ name, logger }) => ({ name, logger, errors: 0 }));
  }

  /** One logger over the members of both. */
  merge(other: FanoutLogger): FanoutLogger {
    return new FanoutLogger([...this.members, ...other.members], this.onWarning);
  }

  async hparams(config: Record<string, unknown>): Promise<void> {
    const pending = this.members.map(async (m) => {
      try {
        await m.logger.hparams(config);
      } catch (err) {
        if (err instanceof UserError) throw err;
        this.failed(m, err);
      }
    });
    await Promise.all(pending);
  }

  scalars(step: number, values: Record<string, number>): void {
    if (this.closed) return;
    for (const m of this.members) this.guard(m, () => m.logger.scalars(step, values));
  }

  image(tag: string, step: number, png: Uint8Array): void {
    if (this.closed) return;
    for (const m of this.members) this.guard(m, () => m.logger.image(tag, step, png));
  }

  text(tag: string, step: number, text: string): void {
    if (this.closed) return;
    for (const m of this.members) this.guard(m, () => m.logger.text?.(tag, step, text));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let fatal: FileWriteError | undefined;
    await Promise.all(
      this.members.map(async (m) => {
        try {
          await m.logger.close();
        } catch (err) {
          if (err instanceof FileWriteError) fatal ??= err;
          else this.failed(m, err);
        }
        if (m.errors > 1) this.onWarning(`${m.name} logger: ${m.errors} errors in this run (only the first was shown).`);
      }),
    );
    if (fatal) throw fatal;
  }

  private guard(m: Member, call: () => void): void {
    try {
      call();
    } catch (err) {
      if (err instanceof FileWriteError) throw err;
      this.failed(m, err);
    }
  }

  private failed(m: Member, err: unknown): void {
    m.errors++;
    if (m.errors === 1) {
      this.onWarning(`${m.name} logger failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
