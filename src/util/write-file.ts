// Every file dinotrain writes goes through here: whole files are written to a temporary sibling and renamed into
// place (a failure never leaves a partial file under the real name), short writes are looped, durable files are
// fsynced with their folder, and any failure becomes one line naming the path and the reason.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError } from './errors.js';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  ENOENT: 'no such file or folder',
  EEXIST: 'it already exists',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
};

/** Errors that say the path cannot be used (exit 2: choose another) rather than that writing it failed (exit 1). */
const PATH_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENOENT', 'EEXIST', 'ENAMETOOLONG']);

/** 'no space left on device (ENOSPC)' for a Node.js file-system error; its message for anything else. */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/** A write that failed: one line naming what and where, exit 1 (or 2 for a path that cannot be written at all). */
export class FileWriteError extends UserError {
  constructor(
    readonly path: string,
    readonly error: unknown,
    what = '',
    after = '',
  ) {
    const code = (error as NodeJS.ErrnoException)?.code ?? '';
    super(`cannot write ${what ? `${what} ` : ''}${path}: ${fsReason(error)}${after}`, PATH_ERRORS.has(code) ? 2 : 1);
  }

  /** the errno code (ENOSPC, EACCES, ...) */
  get code(): string | undefined {
    return (this.error as NodeJS.ErrnoException)?.code;
  }
}

export type Chunks = Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

let tmpCounter = 0;

/** A fresh temporary name beside `path` ('<path>.tmp-<pid>-<n>'); `--overwrite` and resume recognise the pattern. */
export function temporarySibling(path: string): string {
  return `${path}.tmp-${process.pid}-${tmpCounter++}`;
}

/** Matches the names temporarySibling makes. */
export const TEMPORARY_NAME = /\.tmp-\d+(-\d+)?$/;

/** Writes all of `data` at the file position, looping on short writes. */
export async function writeFully(handle: FileHandle, data: string | Uint8Array, position: number): Promise<number> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    done += bytesWritten;
  }
  return done;
}

/** writeSync until every byte is written (a single call may write fewer bytes than asked). */
export function writeFullySync(fd: number, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let offset = 0;
  while (offset < bytes.length) {
    const n = writeSync(fd, bytes, offset, bytes.length - offset);
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    offset += n;
  }
}

/** fsync a folder so renames and new entries in it are durable (skipped where folders cannot be synced). */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, constants.O_RDONLY);
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EINVAL/EPERM on file systems or platforms that cannot sync folders
  } finally {
    await handle.close();
  }
}

export interface WriteFileOptions {
  /** fsync the file and its folder before resolving: it survives a crash of the machine */
  durable?: boolean;
  /** what the file is, for the error line ('checkpoint', 'embeddings', ...) */
  what?: string;
  /** reads the complete temporary file back before it is renamed into place; a throw discards it */
  check?: (tmp: string) => Promise<unknown>;
}

/**
 * Writes `content` to `path` atomically: into a temporary sibling, renamed into place only when every byte is
 * written. Creates the parent folder. On failure the temporary file is removed and a FileWriteError names `path`.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array | Chunks, opts: WriteFileOptions = {}): Promise<void> {
  const tmp = temporarySibling(path);
  let handle: FileHandle | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
    handle = await open(tmp, 'wx');
    let position = 0;
    const chunks = typeof content === 'string' || content instanceof Uint8Array ? [content] : content;
    for await (const chunk of chunks) position += await writeFully(handle, chunk, position);
    if (opts.durable) await handle.sync();
    await handle.close();
    handle = undefined;
    await opts.check?.(tmp);
    await rename(tmp, path);
    if (opts.durable) await syncDir(dirname(path));
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw err instanceof UserError ? err : new FileWriteError(path, err, opts.what);
  }
}

/**
 * Fails early, with the line writeFileAtomic would give, when `path` cannot be written (its folder cannot be made,
 * is read-only, lies under a file...): checked before a long computation whose result goes there. Creates the folder.
 */
export async function checkWritable(path: string, what?: string): Promise<void> {
  const probe = temporarySibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    await (await open(probe, 'wx')).close();
    await rm(probe, { force: true });
  } catch (err) {
    throw new FileWriteError(path, err, what);
  }
}

/** writeFileAtomic for the few places that must stay synchronous (a logger's constructor). */
export function writeFileAtomicSync(path: string, content: string | Uint8Array, opts: WriteFileOptions = {}): void {
  const tmp = temporarySibling(path);
  let fd: number | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, 'wx');
    writeFullySync(fd, content);
    if (opts.durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new FileWriteError(path, err, opts.what);
  }
}

/** A file written line by line as a run goes (logs): each write reaches the kernel at once, failures name the file. */
export class AppendFile {
  private fd: number | null;

  constructor(
    readonly path: string,
    flags: 'w' | 'a' | 'wx',
  ) {
    try {
      this.fd = openSync(path, flags);
    } catch (err) {
      throw new FileWriteError(path, err);
    }
  }

  write(data: string | Uint8Array): void {
    if (this.fd === null) return;
    try {
      writeFullySync(this.fd, data);
    } catch (err) {
      throw new FileWriteError(this.path, err);
    }
  }

  close(sync = false): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      if (sync) fsyncSync(fd);
    } catch (err) {
      throw new FileWriteError(this.path, err);
    } finally {
      closeSync(fd);
    }
  }
}
