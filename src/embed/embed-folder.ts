// The in-process API behind `dinotrain embed`: every image under a folder through a backbone.onnx.
import type { BackboneInfo } from './backbone-info.js';
import { checkModelPath, openBackbone, type OpenBackboneOptions } from './backbone.js';
import { embedFiles, type EmbedFilesOptions, type Embeddings } from './embed-files.js';
import { describeSkippedFolders, scanImageFolder } from '../data/scan.js';
import { UserError } from '../util/errors.js';

export interface EmbedFolderOptions extends OpenBackboneOptions, EmbedFilesOptions {}

export interface FolderEmbeddings extends Embeddings {
  info: BackboneInfo;
  providers: string[];
  deviceReason: string;
  /** e.g. sub-folders that could not be read */
  warnings: string[];
}

export async function embedFolder(model: Uint8Array | string, dir: string, opts: EmbedFolderOptions = {}): Promise<FolderEmbeddings> {
  await checkModelPath(model);
  const list = await scanImageFolder(dir);
  const files = Array.from({ length: list.length }, (_, i) => list.relativePath(i));
  const backbone = await openBackbone(model, opts);
  try {
    const result = await embedFiles(backbone, dir, files, opts);
    if (result.files.length === 0) {
      throw new UserError(`none of the ${files.length} images in ${dir} could be read (first error: ${result.skipped[0]?.reason})`);
    }
    const unread = describeSkippedFolders(list.skippedFolders);
    return { ...result, info: backbone.info, providers: backbone.providers, deviceReason: backbone.deviceReason, warnings: unread ? [unread] : [] };
  } finally {
    await backbone.release();
  }
}
