// The output folder: refuse to mix runs, clear it on --overwrite, require a checkpoint on --resume.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * Checks the output folder without touching it (so a run that fails its other checks leaves it as it was);
 * returns the function that clears (--overwrite) and creates it, to call right before the run writes anything.
 */
export function checkOutDir(out: string, opts: { resume: boolean; overwrite: boolean; data: string }): () => void {
  if (opts.resume && opts.overwrite) throw new UserError('--resume and --overwrite contradict each other: choose one');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UserError(`out: ${out} exists and is not a directory`);
  const entries = existsSync(out) ? readdirSync(out) : [];
  if (opts.resume) {
    const last = join(out, 'checkpoints', 'last');
    if (!existsSync(last) && !existsSync(`${last}.old`)) {
      throw new UserError(`--resume: no checkpoint at ${last}; start a run there first (without --resume)`);
    }
    return () => {};
  }
  if (entries.length > 0) {
    if (!opts.overwrite) {
      throw new UserError(`out: ${out} is not empty; use --resume to continue its run or --overwrite to replace it`);
    }
    const abs = resolve(out);
    const data = resolve(opts.data);
    if (data === abs || data.startsWith(abs + '/') || abs === resolve('/') || abs === resolve(process.env.HOME ?? '/nonexistent')) {
      throw new UserError(`--overwrite would delete ${abs}, which holds the data or is too broad; pick another --out`);
    }
  }
  return () => {
    for (const e of entries) rmSync(join(out, e), { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
  };
}
