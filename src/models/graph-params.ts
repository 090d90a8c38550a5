// How a model function reaches its parameters: by name, as graph tensors. graphParams() makes each one on first
// use (a graph input in training graphs, an initializer in export graphs, as the Graph was built), so a graph only
// holds the tensors it reads (e.g. no mask_token without masks, no running stats in training-mode BatchNorm).

import type { Graph, Tensor } from '../graph/index.js';
import type { ParamSpec } from './params.js';

export type Params = (name: string) => Tensor;

export function graphParams(g: Graph, specs: readonly ParamSpec[]): Params {
  const shapes = new Map(specs.map((p) => [p.name, p.shape]));
  const made = new Map<string, Tensor>();
  return (name) => {
    let t = made.get(name);
    if (!t) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`model reads parameter '${name}' that is not in its spec`);
      t = g.param(name, shape);
      made.set(name, t);
    }
    return t;
  };
}

/** The same parameters seen under a prefix ('dino_head.' + name). */
export const prefixed = (P: Params, prefix: string): Params => (name) => P(prefix + name);
