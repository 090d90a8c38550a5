// The output folder. A run writes only the entries listed here; --overwrite removes those and nothing else: it
// refuses when anything else is in the folder, or when an input of the run (the data, a labelled folder, a weights
// file, the config file) lies inside it, or the folder inside an input, compared by real paths (symlinks resolved).
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { FileWriteError, TEMPORARY_NAME, temporarySibling } from '../util/write-file.js';

/** What a run writes at the top of its folder (files), beside the two folders below. */
const RUN_FILES = [/^config\.json$/, /^train\.log$/, /^metrics\.jsonl$/, /^events\.out\.tfevents\./];
const CHECKPOINT_NAME = /^(last|step-\d+)(\.old)?$/;
const CHECKPOINT_FILES = new Set(['model.safetensors', 'optimizer.safetensors', 'state.json']);
const EXPORT_FILES = new Set(['backbone.onnx', 'backbone.safetensors']);

/** A folder --overwrite moves the previous run into until the new run has started (removed then, restored if not). */
const PREVIOUS_RUN = /^\.previous-run\.tmp-\d+(-\d+)?$/;

const withoutTemporary = (name: string) => name.replace(TEMPORARY_NAME, '');

/** Paths (relative to `out`) of everything in it that a dinotrain run does not write. */
export function foreignEntries(out: string): string[] {
  const foreign: string[] = [];
  const isFile = (p: string) => lstatSync(p).isFile();
  const isDir = (p: string) => lstatSync(p).isDirectory();
  const filesOnly = (dir: string, rel: string, allowed: (name: string) => boolean) => {
    for (const name of readdirSync(dir)) {
      if (!(allowed(withoutTemporary(name)) && isFile(join(dir, name)))) foreign.push(`${rel}/${name}`);
    }
  };
  for (const name of readdirSync(out)) {
    const path = join(out, name);
    if (PREVIOUS_RUN.test(name) && isDir(path)) continue;
    if (name === 'checkpoints' && isDir(path)) {
      for (const ck of readdirSync(path)) {
        const ckPath = join(path, ck);
        if (CHECKPOINT_NAME.test(withoutTemporary(ck)) && isDir(ckPath)) filesOnly(ckPath, `checkpoints/${ck}`, (f) => CHECKPOINT_FILES.has(f));
        else foreign.push(`checkpoints/${ck}`);
      }
    } else if (name === 'exported_models' && isDir(path)) {
      filesOnly(path, 'exported_models', (f) => EXPORT_FILES.has(f));
    } else if (!(RUN_FILES.some((re) => re.test(withoutTemporary(name))) && isFile(path))) {
      foreign.push(name);
    }
  }
  return foreign.sort();
}

/** The real path of `p`, also when it does not exist yet (its deepest existing ancestor resolved). */
export function realPathOf(p: string): string {
  const abs = resolve(p);
  let head = abs;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const parent = dirname(head);
    if (parent === head) break;
    tail.unshift(basename(head));
    head = parent;
  }
  try {
    return join(realpathSync(head), ...tail);
  } catch {
    return abs;
  }
}

/** A FileWriteError (exit 2) when `dir`, or the folder it would be made in, cannot be written. */
function checkWritableFolder(dir: string): void {
  let at = resolve(dir);
  while (!existsSync(at)) at = dirname(at);
  try {
    if (!statSync(at).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    accessSync(at, constants.W_OK);
  } catch (err) {
    throw new FileWriteError(dir, err, 'the output folder');
  }
}

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

export interface OutDirOptions {
  resume: boolean;
  overwrite: boolean;
  /** the run's inputs by the setting that names them: data, val_data.train, init_weights, the config file... */
  inputs: Record<string, string | undefined>;
}

export interface OutDir {
  /**
   * Creates the folder; with --overwrite moves the previous run's files aside. Call it when the run starts writing.
   * Returns the entries moved aside.
   */
  prepare(): string[];
  /** The run has started: the previous run's files, moved aside, are deleted. */
  commit(): void;
  /** The start failed: what this start wrote is removed and the folder is as it was (the previous run restored). */
  undo(): void;
}

/**
 * Checks the output folder without touching it, so a run that fails any later check leaves it as it was, and
 * returns what to do with it once the run starts.
 */
export function checkOutDir(out: string, opts: OutDirOptions): OutDir {
  if (opts.resume && opts.overwrite) throw new UserError('--resume and --overwrite contradict each other: choose one');
  const exists = existsSync(out);
  if (exists && !statSync(out).isDirectory()) throw new UserError(`out: ${out} exists and is not a folder`);
  checkWritableFolder(out);
  const entries = exists ? readdirSync(out) : [];
  const real = realPathOf(out);
  if (opts.resume) {
    const last = join(out, 'checkpoints', 'last');
    if (!existsSync(last) && !existsSync(`${last}.old`)) {
      throw new UserError(`--resume: no checkpoint at ${last}; start a run there first (without --resume)`);
    }
    return { prepare: () => [], commit: () => {}, undo: () => {} };
  }
  if (entries.length > 0 && !opts.overwrite) {
    throw new UserError(`out: ${out} is not empty; use --resume to continue its run or --overwrite to replace it`);
  }
  if (opts.overwrite) {
    if (real === resolve('/') || (process.env.HOME && real === realPathOf(process.env.HOME))) {
      throw new UserError(`--overwrite: ${out} is ${real}, too broad a folder to clear; pick another --out`);
    }
    for (const [setting, input] of Object.entries(opts.inputs)) {
      if (!input) continue;
      const p = realPathOf(input);
      if (inside(p, real)) {
        throw new UserError(`--overwrite would clear ${out}, which holds ${setting} ${input}${p !== resolve(input) ? ` (${p})` : ''}; pick another --out`);
      }
      if (inside(real, p)) {
        throw new UserError(`out: ${out}${real !== resolve(out) ? ` (${real})` : ''} lies inside ${setting} ${input}; with --overwrite pick an --out outside it`);
      }
    }
  }
  const foreign = entries.length > 0 ? foreignEntries(out) : [];
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 10).join(', ') + (foreign.length > 10 ? `, ... (${foreign.length} in all)` : '');
    throw new UserError(
      `--overwrite removes only what a dinotrain run writes, and ${out} holds other files: ${shown}. ` +
        'Move them away or pick another --out.',
    );
  }
  const aside = join(out, `.previous-run${temporarySibling('')}`);
  let created = false;
  let moved: string[] = [];
  return {
    prepare() {
      try {
        created = !existsSync(out);
        mkdirSync(out, { recursive: true });
        if (entries.length > 0) {
          mkdirSync(aside);
          for (const e of entries) renameSync(join(out, e), join(aside, e));
          moved = [...entries].sort();
        }
      } catch (err) {
        throw new FileWriteError(out, err, 'the output folder');
      }
      return moved;
    },
    commit() {
      if (moved.length) rmSync(aside, { recursive: true, force: true });
      moved = [];
    },
    undo() {
      if (!existsSync(out)) return;
      for (const e of readdirSync(out)) if (join(out, e) !== aside) rmSync(join(out, e), { recursive: true, force: true });
      for (const e of moved) renameSync(join(aside, e), join(out, e));
      if (moved.length) rmSync(aside, { recursive: true, force: true });
      if (created) rmSync(out, { recursive: true, force: true });
    },
  };
}
