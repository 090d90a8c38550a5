// Reverse-mode autodiff: walks the nodes built so far backwards and appends each op's VJP as more nodes.

import type { Graph } from './core.js';
import { fmtShape, shapeEq } from './dims.js';
import type { GraphNode, Tensor } from './tensor.js';
import { isFloat } from './types.js';
import { isNonDifferentiable, vjpRule, type VjpRule } from './vjp.js';

export interface GradOptions {
  /** the gradient of `loss` to start from (default: ones of loss's shape, i.e. d sum(loss)) */
  seed?: Tensor;
}

/**
 * Gradients of `loss` (summed if not a scalar) with respect to each tensor of `wrt` (parameters, graph inputs or any
 * intermediate tensor), in the same order. A tensor `loss` does not depend on gets zeros.
 */
export function grad(g: Graph, loss: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  const fwd = g.nodes.slice();
  const needs = new Set(wrt.map((t) => t.id));
  const inputsOf = (n: GraphNode) => n.composite?.inputs ?? n.inputs;
  for (const n of fwd) {
    if (n.noGrad || isNonDifferentiable(n.op)) continue;
    if (inputsOf(n).some((t) => t && needs.has(t.id))) for (const o of n.outputs) if (isFloat(o.dtype)) needs.add(o.id);
  }
  const grads = new Map<number, Tensor>();
  if (opts.seed) {
    if (!shapeEq(opts.seed.shape, loss.shape)) throw new Error(`grad seed ${fmtShape(opts.seed.shape)} vs loss ${fmtShape(loss.shape)}`);
    grads.set(loss.id, opts.seed);
  } else grads.set(loss.id, g.onesLike(loss));
  for (let k = fwd.length - 1; k >= 0; k--) {
    const n = fwd[k];
    if (n.noGrad || isNonDifferentiable(n.op)) continue;
    const gys = n.outputs.map((t) => grads.get(t.id));
    if (gys.every((x) => !x)) continue;
    const inputs = inputsOf(n);
    const need = inputs.map((t) => !!t && needs.has(t.id));
    if (!need.some(Boolean)) continue;
    let gxs: ReturnType<VjpRule>;
    if (n.composite) gxs = n.composite.vjp(gys[0]!, need);
    else {
      const rule = vjpRule(n.op);
      if (!rule) throw new Error(`no gradient rule for ${n.op} (node ${n.name})`);
      gxs = rule(g, n, gys, need);
    }
    inputs.forEach((t, i) => {
      const gx = gxs[i];
      if (!t || !need[i] || !gx) return;
      if (!shapeEq(gx.shape, t.shape)) throw new Error(`${n.op} gradient for input ${i}: shape ${fmtShape(gx.shape)}, expected ${fmtShape(t.shape)}`);
      const prev = grads.get(t.id);
      grads.set(t.id, prev ? g.add(prev, gx) : gx);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? g.zerosLike(t));
}
