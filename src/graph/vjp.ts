// The registry of vector-Jacobian rules. Each op file registers the rules for its ops next to their forward code.

import type { Graph } from './core.js';
import type { GraphNode, Tensor } from './tensor.js';

/**
 * A VJP rule gets the node, the gradients of its outputs (undefined where an output has none) and which inputs
 * need a gradient; it returns one gradient per input (null/undefined/false where not needed), built as graph nodes.
 */
export type VjpRule = (
  g: Graph,
  node: GraphNode,
  gys: readonly (Tensor | undefined)[],
  need: readonly boolean[],
) => readonly (Tensor | null | undefined | false)[];

const rules = new Map<string, VjpRule>();
const nonDiff = new Set<string>();

export function defineVjp(op: string, rule: VjpRule): void {
  rules.set(op, rule);
}

/** Ops whose outputs never carry a gradient (comparisons, index outputs, shapes, ...). */
export function defineNonDifferentiable(...ops: string[]): void {
  for (const op of ops) nonDiff.add(op);
}

export const vjpRule = (op: string): VjpRule | undefined => rules.get(op);
export const isNonDifferentiable = (op: string): boolean => nonDiff.has(op);
