// Labelled image folders in ImageFolder layout: DIR/<class>/<image> (images may sit deeper below a class).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { scanImageFolder } from '../data/scan.js';
import { UserError } from '../util/errors.js';

export interface LabelledFiles {
  /** Paths relative to the folder, e.g. "cat/001.jpg". */
  files: string[];
  /** Class index per file (index into `classes`). */
  labels: number[];
  classes: string[];
  /** Class folders without any image (ignored). */
  emptyClasses: string[];
}

async function imagesUnder(folder: string): Promise<string[]> {
  try {
    const list = await scanImageFolder(folder);
    return Array.from({ length: list.length }, (_, i) => list.relativePath(i));
  } catch (err) {
    if (err instanceof UserError && /^No image files found/.test(err.message)) return [];
    throw err;
  }
}

/** Lists DIR/<class>/**; with `classes` given (val), labels follow that order and unknown classes are an error. */
export async function listLabelledImages(dir: string, what: string, classes?: string[]): Promise<LabelledFiles> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) throw new UserError(`${what} folder not found: ${dir}`);
  if (!s.isDirectory()) throw new UserError(`${what}: not a folder: ${dir}`);
  const folders = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (folders.length === 0) {
    throw new UserError(`${what}: no class folders in ${dir} (expected ${dir}/<class>/<image>, the class being the folder name)`);
  }
  const found: string[] = [];
  const emptyClasses: string[] = [];
  const perClass = new Map<string, string[]>();
  for (const name of folders) {
    const images = await imagesUnder(join(dir, name));
    if (images.length === 0) emptyClasses.push(name);
    else {
      found.push(name);
      perClass.set(name, images);
    }
  }
  if (found.length === 0) throw new UserError(`${what}: no images in any class folder of ${dir}`);
  const order = classes ?? found;
  const index = new Map(order.map((c, i) => [c, i]));
  const unknown = found.filter((c) => !index.has(c));
  if (unknown.length > 0) {
    throw new UserError(`${what}: class folder(s) ${unknown.map((c) => `'${c}'`).join(', ')} in ${dir} have no counterpart in the train folder`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const c of found) {
    for (const f of perClass.get(c)!) {
      files.push(`${c}/${f}`);
      labels.push(index.get(c)!);
    }
  }
  return { files, labels, classes: order, emptyClasses };
}
