// Elementwise ops (numpy broadcasting) and their gradient rules.

import { Graph } from '../core.js';
import { broadcastShapes } from '../dims.js';
import type { Tensor } from '../tensor.js';
import { ONNX_DTYPE, isFloat, type DType } from '../types.js';
import { defineNonDifferentiable, defineVjp } from '../vjp.js';

type T = Tensor | number;

declare module '../core.js' {
  interface Graph {
    /** a binary elementwise op with broadcasting; numbers become scalars of the other operand's type */
    binary(op: string, a: T, b: T, outDtype?: DType): Tensor;
    /** a unary op whose output has its input's shape and type */
    unary(op: string, x: Tensor, attrs?: Record<string, number>): Tensor;
    add(a: T, b: T): Tensor;
    sub(a: T, b: T): Tensor;
    mul(a: T, b: T): Tensor;
    div(a: T, b: T): Tensor;
    pow(a: T, b: T): Tensor;
    /** elementwise maximum of two tensors (ONNX Max); gradient to a where a >= b, else to b */
    max(a: T, b: T): Tensor;
    /** elementwise minimum (ONNX Min); gradient to a where a <= b, else to b */
    min(a: T, b: T): Tensor;
    where(cond: Tensor, a: T, b: T): Tensor;
    neg(x: Tensor): Tensor;
    exp(x: Tensor): Tensor;
    log(x: Tensor): Tensor;
    sqrt(x: Tensor): Tensor;
    reciprocal(x: Tensor): Tensor;
    abs(x: Tensor): Tensor;
    sign(x: Tensor): Tensor;
    /** Erf; in decompose mode (float64) a polynomial erf from plain ops, error < 1.2e-7 */
    erf(x: Tensor): Tensor;
    tanh(x: Tensor): Tensor;
    sigmoid(x: Tensor): Tensor;
    relu(x: Tensor): Tensor;
    /** exact (erf) GELU: 0.5·x·(1+erf(x/√2)), as torch.nn.functional.gelu */
    gelu(x: Tensor): Tensor;
    /** Clip to [min, max] (either may be omitted); gradient passes where min <= x <= max, as torch.clamp */
    clip(x: Tensor, min?: T | null, max?: T | null): Tensor;
    identity(x: Tensor): Tensor;
    /** Identity that autodiff treats as a constant (torch .detach()) */
    stopGradient(x: Tensor): Tensor;
    cast(x: Tensor, dtype: DType): Tensor;
    equal(a: T, b: T): Tensor;
    greater(a: T, b: T): Tensor;
    less(a: T, b: T): Tensor;
    greaterOrEqual(a: T, b: T): Tensor;
    lessOrEqual(a: T, b: T): Tensor;
    not(x: Tensor): Tensor;
    and(a: Tensor, b: Tensor): Tensor;
    or(a: Tensor, b: Tensor): Tensor;
  }
}

const P = Graph.prototype;

P.binary = function (op, a, b, outDtype) {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op} of two numbers`);
  const ta = typeof a === 'number' ? this.lift(a, b as Tensor) : a;
  const tb = typeof b === 'number' ? this.lift(b, ta) : b;
  if (ta.dtype !== tb.dtype) throw new Error(`${op}: dtype ${ta.dtype} vs ${tb.dtype}`);
  return this.one(op, [ta, tb], null, broadcastShapes(ta.shape, tb.shape), outDtype ?? ta.dtype);
};
P.unary = function (op, x, attrs) {
  return this.one(op, [x], attrs ?? null, x.shape);
};
P.add = function (a, b) { return this.binary('Add', a, b); };
P.sub = function (a, b) { return this.binary('Sub', a, b); };
P.mul = function (a, b) { return this.binary('Mul', a, b); };
P.div = function (a, b) { return this.binary('Div', a, b); };
P.pow = function (a, b) { return this.binary('Pow', a, b); };
P.max = function (a, b) { return this.binary('Max', a, b); };
P.min = function (a, b) { return this.binary('Min', a, b); };
P.where = function (cond, a, b) {
  const like = typeof a === 'number' ? (typeof b === 'number' ? this.dtype : b.dtype) : a.dtype;
  const ta = this.lift(a, like), tb = this.lift(b, like);
  const shape = broadcastShapes(cond.shape, broadcastShapes(ta.shape, tb.shape));
  return this.one('Where', [cond, ta, tb], null, shape, ta.dtype);
};
P.neg = function (x) { return this.unary('Neg', x); };
P.exp = function (x) { return this.unary('Exp', x); };
P.log = function (x) { return this.unary('Log', x); };
P.sqrt = function (x) { return this.unary('Sqrt', x); };
P.reciprocal = function (x) { return this.unary('Reciprocal', x); };
P.abs = function (x) { return this.unary('Abs', x); };
P.sign = function (x) { return this.unary('Sign', x); };
P.tanh = function (x) { return this.unary('Tanh', x); };
P.sigmoid = function (x) { return this.unary('Sigmoid', x); };
P.relu = function (x) { return this.unary('Relu', x); };
P.identity = function (x) { return this.unary('Identity', x); };
P.stopGradient = function (x) { return this.node('Identity', [x], null, [[x.shape, x.dtype]], { noGrad: true })[0]; };

// Numerical Recipes' erfc (fractional error < 1.2e-7), for float64 graphs: ORT's CPU build has no double Erf.
const ERFC = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
P.erf = function (x) {
  if (!this.decompose) return this.unary('Erf', x);
  const z = this.abs(x), t = this.div(1, this.add(this.mul(z, 0.5), 1));
  let poly = this.lift(ERFC[9], x);
  for (let k = 8; k >= 0; k--) poly = this.add(this.mul(t, poly), ERFC[k]);
  const erfc = this.mul(t, this.exp(this.sub(poly, this.mul(z, z))));
  return this.mul(this.sign(x), this.sub(1, erfc));
};
// With contribOps: ORT's fused Gelu kernel (one pass instead of five) and the 'Gelu' rule below for its gradient.
// Otherwise plain ops, dividing by √2 (not multiplying by 1/√2): that is the form ORT's optimiser fuses into the same
// kernel when it loads an exported model.
P.gelu = function (x) {
  if (this.contribOps && x.dtype === 'float') return this.node('Gelu', [x], null, [[x.shape, x.dtype]], { domain: 'com.microsoft' })[0];
  return this.mul(this.mul(x, 0.5), this.add(this.erf(this.div(x, Math.SQRT2)), 1));
};
P.clip = function (x, min, max) {
  const lo = min === undefined || min === null ? null : this.lift(min, x);
  const hi = max === undefined || max === null ? null : this.lift(max, x);
  return this.one('Clip', hi ? [x, lo, hi] : [x, lo], null, x.shape);
};
P.cast = function (x, dtype) {
  if (x.dtype === dtype) return x;
  return this.one('Cast', [x], { to: ONNX_DTYPE[dtype] }, x.shape, dtype);
};
P.equal = function (a, b) { return this.binary('Equal', a, b, 'bool'); };
P.greater = function (a, b) { return this.binary('Greater', a, b, 'bool'); };
P.less = function (a, b) { return this.binary('Less', a, b, 'bool'); };
P.greaterOrEqual = function (a, b) { return this.binary('GreaterOrEqual', a, b, 'bool'); };
P.lessOrEqual = function (a, b) { return this.binary('LessOrEqual', a, b, 'bool'); };
P.not = function (x) { return this.one('Not', [x], null, x.shape, 'bool'); };
P.and = function (a, b) { return this.binary('And', a, b, 'bool'); };
P.or = function (a, b) { return this.binary('Or', a, b, 'bool'); };

defineNonDifferentiable('Sign', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'Not', 'And', 'Or', 'Shape', 'Constant');

// ---------------------------------------------------------------- gradient rules

defineVjp('Identity', (_g, _n, [gy]) => [gy]);
defineVjp('Add', (g, { inputs: [a, b] }, [gy], need) => [need[0] && g.unbroadcast(gy!, a!.shape), need[1] && g.unbroadcast(gy!, b!.shape)]);
defineVjp('Sub', (g, { inputs: [a, b] }, [gy], need) => [need[0] && g.unbroadcast(gy!, a!.shape), need[1] && g.unbroadcast(g.neg(gy!), b!.shape)]);
defineVjp('Mul', (g, { inputs: [a, b] }, [gy], need) => [
  need[0] && g.unbroadcast(g.mul(gy!, b!), a!.shape),
  need[1] && g.unbroadcast(g.mul(gy!, a!), b!.shape),
]);
defineVjp('Div', (g, { inputs: [a, b], outputs: [y] }, [gy], need) => {
  const ga = g.div(gy!, b!);
  return [need[0] && g.unbroadcast(ga, a!.shape), need[1] && g.unbroadcast(g.neg(g.mul(ga, y)), b!.shape)];
});
defineVjp('Pow', (g, { inputs: [a, b], outputs: [y] }, [gy], need) => {
  let ga: Tensor | null = null;
  if (need[0]) {
    const e = b!.value && b!.value.data.length === 1 ? g.lift(Number(b!.value.data[0]) - 1, a!) : g.sub(b!, 1);
    ga = g.unbroadcast(g.mul(gy!, g.mul(b!, g.pow(a!, e))), a!.shape);
  }
  return [ga, need[1] && g.unbroadcast(g.mul(gy!, g.mul(y, g.log(a!))), b!.shape)];
});
const pick = (cmp: 'GreaterOrEqual' | 'LessOrEqual') =>
  ((g, { inputs: [a, b] }, [gy], need) => {
    const mask = g.binary(cmp, a!, b!, 'bool');
    const zero = g.lift(0, gy!);
    return [need[0] && g.unbroadcast(g.where(mask, gy!, zero), a!.shape), need[1] && g.unbroadcast(g.where(mask, zero, gy!), b!.shape)];
  }) satisfies Parameters<typeof defineVjp>[1];
defineVjp('Max', pick('GreaterOrEqual'));
defineVjp('Min', pick('LessOrEqual'));
defineVjp('Where', (g, { inputs: [c, a, b] }, [gy], need) => {
  const zero = g.lift(0, gy!);
  return [null, need[1] && g.unbroadcast(g.where(c!, gy!, zero), a!.shape), need[2] && g.unbroadcast(g.where(c!, zero, gy!), b!.shape)];
});
defineVjp('Neg', (g, _n, [gy]) => [g.neg(gy!)]);
defineVjp('Exp', (g, { outputs: [y] }, [gy]) => [g.mul(gy!, y)]);
defineVjp('Log', (g, { inputs: [x] }, [gy]) => [g.div(gy!, x!)]);
defineVjp('Sqrt', (g, { outputs: [y] }, [gy]) => [g.div(g.mul(gy!, 0.5), y)]);
defineVjp('Reciprocal', (g, { outputs: [y] }, [gy]) => [g.neg(g.mul(gy!, g.mul(y, y)))]);
defineVjp('Abs', (g, { inputs: [x] }, [gy]) => [g.mul(gy!, g.sign(x!))]);
defineVjp('Erf', (g, { inputs: [x] }, [gy]) => [g.mul(gy!, g.mul(g.exp(g.neg(g.mul(x!, x!))), 2 / Math.sqrt(Math.PI)))]);
// GELU'(x) = Φ(x) + x·φ(x), as torch's gelu_backward, in 10 elementwise passes (the generic rules over the plain
// form take 10 more passes after its 5 forward ones): with u = x/√2, Φ = ½(1 + erf u) and x·φ(x) = u·e^(−u²)/√π,
// the 1/√π folded into the exponent.
const LN_INV_SQRT_PI = -0.5 * Math.log(Math.PI);
defineVjp('Gelu', (g, { inputs: [x] }, [gy]) => {
  const u = g.mul(x!, Math.SQRT1_2);
  const cdf = g.add(g.mul(g.erf(u), 0.5), 0.5);
  const xpdf = g.mul(u, g.exp(g.sub(LN_INV_SQRT_PI, g.mul(u, u))));
  return [g.mul(gy!, g.add(cdf, xpdf))];
});
defineVjp('Tanh', (g, { outputs: [y] }, [gy]) => [g.mul(gy!, g.sub(1, g.mul(y, y)))]);
defineVjp('Sigmoid', (g, { outputs: [y] }, [gy]) => [g.mul(gy!, g.mul(y, g.sub(1, y)))]);
defineVjp('Relu', (g, { inputs: [x] }, [gy]) => [g.where(g.greater(x!, 0), gy!, 0)]);
defineVjp('Clip', (g, { inputs: [x, lo, hi] }, [gy]) => {
  let mask: Tensor | null = lo ? g.greaterOrEqual(x!, lo) : null;
  if (hi) mask = mask ? g.and(mask, g.lessOrEqual(x!, hi)) : g.lessOrEqual(x!, hi);
  return [mask ? g.where(mask, gy!, 0) : gy];
});
defineVjp('Cast', (g, { inputs: [x] }, [gy]) => [isFloat(x!.dtype) ? g.cast(gy!, x!.dtype) : null]);
