// Checkpoints: a directory with model.safetensors (student/teacher/heads, names prefixed), optimizer.safetensors and
// state.json. Saving writes a temporary sibling, fsyncs it, then swaps it in with two renames (target -> target.old,
// temporary -> target) and deletes the old one, so at every instant a complete checkpoint exists under `target` or
// `target.old`. Loading (and the next save) puts `target.old` back when a crash hit between the two renames.
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, normalize } from 'node:path';
import { parseSafetensors, type SafetensorsFile, type Tensor, type TensorInput, writeSafetensors } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import { dinotrainVersion } from '../util/version.js';
import { FileWriteError, syncDir, temporarySibling, TEMPORARY_NAME, writeFileAtomic } from '../util/write-file.js';

export const CHECKPOINT_FORMAT_VERSION = 1;
export const MODEL_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';
const FILES = [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE] as const;

/** What a checkpoint holds besides tensors (state.json). */
export interface CheckpointState {
  /** optimizer steps taken */
  step: number;
  epoch: number;
  /** batches of `epoch` already trained on */
  batchInEpoch?: number;
  /** The resolved config of the run. */
  config: unknown;
  /** images in the data folder (what 'auto' settings were resolved for) */
  images?: number;
  /** processes of the data-parallel job that wrote it */
  processes?: number;
  /** the schedules' values at the last step (lr, weightDecay, the method's own) */
  schedules?: Record<string, number>;
}

export interface SavedState extends CheckpointState {
  formatVersion: number;
  dinotrainVersion: string;
}

export interface CheckpointContents {
  /** model.safetensors: every model tensor, names prefixed by role ('student.', 'teacher.', ...). */
  tensors: ReadonlyMap<string, TensorInput>;
  /** optimizer.safetensors: an Optimizer's exportState(). */
  optimizer: { tensors: ReadonlyMap<string, TensorInput>; metadata?: Record<string, string> };
  state: CheckpointState;
  /** Extra __metadata__ for model.safetensors. */
  modelMetadata?: Record<string, string>;
}

export interface LoadedCheckpoint {
  dir: string;
  /** the files as read */
  files: CheckpointFiles;
  /** model.safetensors tensors (views into the file's bytes). */
  tensors: Map<string, Tensor>;
  modelMetadata: Record<string, string>;
  optimizer: SafetensorsFile;
  state: SavedState;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** 'runs/x/last/' -> 'runs/x/last': the .old and .tmp- siblings are built by appending to the name. */
const clean = (path: string) => normalize(path).replace(/(.)[\\/]+$/, '$1');
const oldName = (target: string) => `${target}.old`;
const tmpPrefix = (target: string) => `${basename(target)}.tmp-`;

/**
 * Brings `target` back to a clean state after a crash: `target.old` is renamed back when `target` is missing (crash
 * between the two renames) or deleted when `target` exists (crash before the cleanup). Returns true when it restored.
 */
export async function recoverCheckpoint(target: string): Promise<boolean> {
  target = clean(target);
  const old = oldName(target);
  if (!(await exists(old))) return false;
  if (await exists(target)) {
    await rm(old, { recursive: true, force: true });
    return false;
  }
  await rename(old, target);
  await syncDir(dirname(target));
  return true;
}

/** Removes temporary directories that a killed save left next to `target`. */
async function removeStaleTemporaries(target: string): Promise<void> {
  const parent = dirname(target);
  const prefix = tmpPrefix(target);
  for (const name of await readdir(parent)) {
    if (name.startsWith(prefix)) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/** Atomically puts the complete, synced directory `tmp` in place of `target` (see the file comment). */
async function swapInto(tmp: string, target: string): Promise<void> {
  target = clean(target);
  const old = oldName(target);
  const hadTarget = await exists(target);
  if (hadTarget) await rename(target, old);
  await rename(tmp, target);
  await syncDir(dirname(target));
  if (hadTarget) await rm(old, { recursive: true, force: true });
}

async function prepare(target: string): Promise<string> {
  target = clean(target);
  await mkdir(dirname(target), { recursive: true });
  await recoverCheckpoint(target);
  await removeStaleTemporaries(target);
  const tmp = temporarySibling(target);
  await mkdir(tmp);
  return tmp;
}

/**
 * Saves a checkpoint directory atomically (see the file comment). The tensors are written from their memory: they
 * must not change until the promise resolves.
 */
export async function saveCheckpoint(dir: string, contents: CheckpointContents): Promise<void> {
  await writeCheckpointDir(dir, async (tmp) => {
    const state: SavedState = { formatVersion: CHECKPOINT_FORMAT_VERSION, dinotrainVersion, ...contents.state };
    state.formatVersion = CHECKPOINT_FORMAT_VERSION;
    await writeSafetensors(join(tmp, MODEL_FILE), contents.tensors, contents.modelMetadata, { fsync: true });
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), contents.optimizer.tensors, contents.optimizer.metadata, { fsync: true });
    await writeFileAtomic(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 1)}\n`, { durable: true });
  });
}

/**
 * Fills a temporary sibling of `target` with `fill`, syncs it and swaps it in. On any failure (a full disk) the
 * temporary folder is removed and a FileWriteError names `target`; the previous checkpoint stays as it was.
 */
async function writeCheckpointDir(target: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  let tmp: string | undefined;
  try {
    tmp = await prepare(target);
    await fill(tmp);
    await syncDir(tmp);
    await swapInto(tmp, target);
  } catch (err) {
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => {});
    const cause = err instanceof FileWriteError ? err.error : err;
    throw new FileWriteError(clean(target), cause, 'checkpoint', '; the previous checkpoint is intact');
  }
}

/**
 * Copies a complete checkpoint directory to `target` (hard links where the filesystem allows: later saves write new
 * files, so the links never change), atomically like saveCheckpoint.
 */
export async function snapshotCheckpoint(source: string, target: string): Promise<void> {
  await writeCheckpointDir(target, async (tmp) => {
    for (const f of FILES) {
      try {
        await link(join(source, f), join(tmp, f));
      } catch {
        await copyFile(join(source, f), join(tmp, f));
        const handle = await open(join(tmp, f), 'r+');
        await handle.sync().finally(() => handle.close());
      }
    }
  });
}

/**
 * Cleans what killed saves left in a checkpoints folder: temporaries are deleted, `<name>.old` directories are put
 * back or deleted by recoverCheckpoint. Only one process may write checkpoints into `root`.
 */
export async function tidyCheckpointRoot(root: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return;
  }
  for (const name of names) {
    if (TEMPORARY_NAME.test(name)) await rm(join(root, name), { recursive: true, force: true });
    else if (name.endsWith('.old')) await recoverCheckpoint(join(root, name.slice(0, -'.old'.length)));
  }
}

/**
 * Saves `<root>/last`, and `<root>/step-<step>` as well when `every` > 0 divides the step.
 * Returns the directories written.
 */
export async function saveCheckpoints(root: string, contents: CheckpointContents, every: number): Promise<string[]> {
  await tidyCheckpointRoot(root);
  const last = join(root, 'last');
  await saveCheckpoint(last, contents);
  const written = [last];
  const step = contents.state.step;
  if (every > 0 && step % every === 0) {
    const numbered = join(root, `step-${step}`);
    await snapshotCheckpoint(last, numbered);
    written.push(numbered);
  }
  return written;
}

/**
 * Loads a checkpoint directory. Missing directory or files, corrupt files and a different format version are
 * UserErrors that name the path and the problem.
 */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  dir = clean(dir);
  try {
    await recoverCheckpoint(dir);
  } catch (e) {
    throw new UserError(`cannot recover checkpoint ${dir} from ${oldName(dir)}: ${(e as Error).message}`);
  }
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new UserError(`checkpoint directory ${dir} does not exist`);
  }
  if (!info.isDirectory()) throw new UserError(`checkpoint ${dir} is not a directory`);
  for (const f of FILES) {
    if (!(await exists(join(dir, f)))) throw new UserError(`checkpoint ${dir} is incomplete: ${f} is missing`);
  }

  const files: CheckpointFiles = {
    model: await readFile(join(dir, MODEL_FILE)),
    optimizer: await readFile(join(dir, OPTIMIZER_FILE)),
    state: await readFile(join(dir, STATE_FILE)),
  };
  return parseCheckpoint(dir, files);
}

/** The three files of a checkpoint, as bytes (what a data-parallel job's rank 0 reads and sends to the others). */
export interface CheckpointFiles {
  model: Uint8Array;
  optimizer: Uint8Array;
  state: Uint8Array;
}

/** A checkpoint from its files' bytes; corrupt files and another format version are UserErrors naming `dir`. */
export function parseCheckpoint(dir: string, files: CheckpointFiles): LoadedCheckpoint {
  let state: SavedState;
  try {
    state = JSON.parse(Buffer.from(files.state).toString('utf8')) as SavedState;
  } catch (e) {
    throw new UserError(`checkpoint ${dir} has a corrupt ${STATE_FILE}: ${(e as Error).message}`);
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new UserError(`checkpoint ${dir} has a corrupt ${STATE_FILE}: not a JSON object`);
  }
  if (state.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new UserError(
      `checkpoint ${dir} has format version ${JSON.stringify(state.formatVersion)} (written by dinotrain ` +
        `${state.dinotrainVersion ?? 'unknown'}); this dinotrain (${dinotrainVersion}) reads format version ${CHECKPOINT_FORMAT_VERSION}`,
    );
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new UserError(`checkpoint ${dir} has a corrupt ${STATE_FILE}: invalid step`);
  const model = parseSafetensors(files.model, join(dir, MODEL_FILE));
  const optimizer = parseSafetensors(files.optimizer, join(dir, OPTIMIZER_FILE));
  return { dir, files, tensors: model.tensors, modelMetadata: model.metadata, optimizer, state };
}
