// A labelled folder (DIR/<class>/<image>) decoded once into memory as the backbone input: normalised float32
// [N, 3, S, S], with the eval preprocessing of src/embed (squash to S x S, mean/std per channel).
import { join } from 'node:path';
import { configureSharp, loadImageInto } from '../../src/embed/preprocess.js';
import { listLabelledImages } from '../../src/eval/labelled-folder.js';

export interface EvalImages {
  images: Float32Array;
  labels: Int32Array;
  classes: string[];
  count: number;
  size: number;
}

export async function loadEvalImages(
  dir: string,
  size: number,
  mean: [number, number, number],
  std: [number, number, number],
  classes?: string[],
): Promise<EvalImages> {
  configureSharp();
  const list = await listLabelledImages(dir, dir, classes);
  const pixels = 3 * size * size;
  const images = new Float32Array(list.files.length * pixels);
  const spec = { height: size, width: size, mean, std, centerCrop: false };
  const chunk = 64;
  for (let start = 0; start < list.files.length; start += chunk) {
    const jobs: Promise<void>[] = [];
    for (let i = start; i < Math.min(list.files.length, start + chunk); i++) {
      jobs.push(loadImageInto(join(dir, list.files[i]), spec, images, i * pixels));
    }
    await Promise.all(jobs);
  }
  return { images, labels: Int32Array.from(list.labels), classes: list.classes, count: list.files.length, size };
}
