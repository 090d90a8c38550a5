// The backbone's inference graph, eval-mode (BatchNorm running statistics, no drop path, no masks): input `images`
// [N,3,H,W] (normalised), outputs `embedding` [N,D] and, for ViTs, `patch_tokens` [N,T,D]. With `values` the
// parameters are initializers (the exported file); without, they are graph inputs, as in the training graphs
// (the reference the export is verified against).
import { Graph, type Tensor } from '../graph/index.js';
import { graphParams } from '../models/graph-params.js';
import type { BackboneModel } from '../models/registry.js';
import { UserError } from '../util/errors.js';

export const INPUT_NAME = 'images';
export const EMBEDDING = 'embedding';
export const PATCH_TOKENS = 'patch_tokens';

export interface BackboneGraphOptions {
  imageSize: number;
  /** a number fixes the batch dimension; default symbolic 'N' */
  batch?: number | 'N';
  /** parameter values: initializers when given, graph inputs otherwise */
  values?: ReadonlyMap<string, Float32Array>;
  name?: string;
}

/** A UserError when `size` cannot be an input of `model` (ViT: a multiple of the patch size). */
export function checkImageSize(model: BackboneModel, size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new UserError(`image size must be a positive integer, got ${size}`);
  if (model.patchSize && size % model.patchSize !== 0) {
    const p = model.patchSize, lo = Math.floor(size / p) * p;
    const nearest = lo > 0 ? `${lo} or ${lo + p}` : `${p}`;
    throw new UserError(`image size ${size} is not a multiple of ${model.name}'s patch size ${p} (nearest: ${nearest})`);
  }
}

export function buildBackboneGraph(model: BackboneModel, o: BackboneGraphOptions): { g: Graph; outputs: Record<string, Tensor> } {
  checkImageSize(model, o.imageSize);
  const g = new Graph({ name: o.name ?? 'dinotrain_backbone', paramValues: o.values });
  const specs = model.spec().filter((p) => model.isExportKey(p.name));
  const P = graphParams(g, specs);
  const images = g.input(INPUT_NAME, [o.batch ?? 'N', 3, o.imageSize, o.imageSize]);
  const out = model.forward(g, P, images, { bnMode: 'eval' });
  const outputs: Record<string, Tensor> = { [EMBEDDING]: out.cls };
  if (out.patchTokens) outputs[PATCH_TOKENS] = out.patchTokens;
  return { g, outputs };
}
