// Recursive scan of an image folder into a compact, sorted file list: all relative paths as one
// UTF-8 Buffer plus offsets (a million paths cost ~50 MB instead of a million live JS strings).
import { opendir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { osReason } from './os-error.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tiff', '.tif', '.gif', '.avif'] as const;

export function isImageFileName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  if (dot < 0) return false;
  const ext = name.slice(dot).toLowerCase();
  return (IMAGE_EXTENSIONS as readonly string[]).includes(ext);
}

/** A subfolder the scan could not list; its images, if any, are not in the list. */
export interface SkippedFolder {
  /** Relative to the root, '/'-separated. */
  path: string;
  /** The OS's reason, e.g. "permission denied (EACCES)". */
  reason: string;
}

export class ImageFileList {
  constructor(
    /** The scanned folder, as given. */
    readonly root: string,
    private readonly bytes: Buffer,
    /** offsets[i]..offsets[i+1] is path i in `bytes`; length = count + 1. */
    private readonly offsets: Uint32Array,
    /** Subfolders that could not be read, sorted (describeSkippedFolders words them for a warning). */
    readonly skippedFolders: readonly SkippedFolder[] = [],
  ) {}

  static fromRelativePaths(root: string, paths: readonly string[], skippedFolders: readonly SkippedFolder[] = []): ImageFileList {
    const offsets = new Uint32Array(paths.length + 1);
    for (let i = 0; i < paths.length; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(paths[i], 'utf8');
    const bytes = Buffer.allocUnsafe(offsets[paths.length]);
    for (let i = 0; i < paths.length; i++) bytes.write(paths[i], offsets[i], 'utf8');
    return new ImageFileList(root, bytes, offsets, skippedFolders);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Path relative to the root, '/'-separated. */
  relativePath(i: number): string {
    if (i < 0 || i >= this.length) throw new RangeError(`file index ${i} out of range [0, ${this.length})`);
    return this.bytes.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }

  path(i: number): string {
    return join(this.root, this.relativePath(i));
  }

  /** Bytes held by the list itself. */
  get byteSize(): number {
    return this.bytes.byteLength + this.offsets.byteLength;
  }
}

/**
 * Every image file (by extension, case-insensitive) under `root`, recursively, sorted by relative
 * path. Hidden files and folders (name starting with '.') are skipped; symbolic links are followed
 * (each real folder visited once). Subfolders that cannot be read are skipped and listed in the
 * result's `skippedFolders`. Throws UserError when the folder is missing, unreadable or holds no image.
 */
export async function scanImageFolder(root: string): Promise<ImageFileList> {
  let rootStat;
  try {
    rootStat = await stat(root);
  } catch {
    throw new UserError(`Data folder not found: ${root}`);
  }
  if (!rootStat.isDirectory()) throw new UserError(`Data path is not a folder: ${root}`);

  const found: string[] = [];
  const skipped: SkippedFolder[] = [];
  const visited = new Set<string>();
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    const abs = join(root, rel);
    try {
      const real = await realpath(abs);
      if (visited.has(real)) continue;
      visited.add(real);
      for await (const entry of await opendir(abs)) {
        if (entry.name.startsWith('.')) continue;
        const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
        let isDir = entry.isDirectory();
        let isFile = entry.isFile();
        if (entry.isSymbolicLink()) {
          const target = await stat(join(root, childRel)).catch(() => null);
          isDir = target?.isDirectory() ?? false;
          isFile = target?.isFile() ?? false;
        }
        if (isDir) pending.push(childRel);
        else if (isFile && isImageFileName(entry.name)) found.push(childRel);
      }
    } catch (err) {
      const reason = osReason(err) ?? (err as Error).message;
      if (rel === '') throw new UserError(`Cannot read data folder ${root}: ${reason}`);
      skipped.push({ path: rel, reason }); // its images are left out, like unreadable files
    }
  }
  if (found.length === 0) {
    const unread = describeSkippedFolders(skipped);
    throw new UserError(
      `No image files found in ${root} (looked recursively for ${IMAGE_EXTENSIONS.join(', ')})${unread ? `; ${unread}` : ''}`,
    );
  }
  found.sort(compareOrdinal);
  skipped.sort((a, b) => compareOrdinal(a.path, b.path));
  return ImageFileList.fromRelativePaths(root, found, skipped);
}

/** One line for a warning, e.g. "2 folder(s) could not be read and were skipped: a (permission denied (EACCES)), b/c (...)"; undefined when none. */
export function describeSkippedFolders(skipped: readonly SkippedFolder[], max = 5): string | undefined {
  if (skipped.length === 0) return undefined;
  const named = skipped.slice(0, max).map((f) => `${f.path} (${f.reason})`);
  if (skipped.length > max) named.push(`and ${skipped.length - max} more`);
  return `${skipped.length} folder(s) could not be read and were skipped: ${named.join(', ')}`;
}

// Plain string order (UTF-16 code units), the same on every platform and locale.
function compareOrdinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
