// Labelled folders from the bundled photos for kNN evals in tests: the class is the photo a crop comes from
// (examples/images/<photo>-<n>.jpg), even crops go to train/, odd ones to val/.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Writes <dir>/train/<photo>/… and <dir>/val/<photo>/…; returns both folders. */
export function labelledPhotos(dir: string): { train: string; val: string } {
  for (const f of readdirSync('examples/images')) {
    const [cls, idx] = f.replace('.jpg', '').split('-');
    const split = Number(idx) % 2 === 0 ? 'train' : 'val';
    mkdirSync(join(dir, split, cls), { recursive: true });
    cpSync(join('examples/images', f), join(dir, split, cls, f));
  }
  return { train: join(dir, 'train'), val: join(dir, 'val') };
}
