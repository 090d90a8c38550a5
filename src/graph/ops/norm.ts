// Normalisation layers: LayerNorm (fused op, or plain ops in decompose mode), BatchNorm with batch statistics
// (plain ops with one fused gradient rule), BatchNorm with running statistics (inference), L2 normalisation.

import { Graph } from '../core.js';
import { dimMul, isStaticShape, normAxis, numel } from '../dims.js';
import type { Dim } from '../types.js';
import type { Tensor } from '../tensor.js';
import { ONNX_DTYPE } from '../types.js';
import { defineVjp } from '../vjp.js';

export interface BatchNormResult {
  /** the normalised output */
  y: Tensor;
  /** per-channel batch mean [C], a constant to autodiff (it feeds the running statistics, never a loss) */
  mean: Tensor;
  /** per-channel biased batch variance [C] (torch's running_var uses the unbiased one: var·n/(n−1)); a constant too */
  var: Tensor;
}

declare module '../core.js' {
  interface Graph {
    /** LayerNormalization over the axes from `axis` (default -1) to the end; beta may be omitted */
    layerNorm(x: Tensor, gamma: Tensor, beta?: Tensor | null, epsilon?: number, axis?: number): Tensor;
    /** BatchNorm with batch statistics over all axes but 1 (training mode); gamma/beta [C] */
    batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon?: number): BatchNormResult;
    /** BatchNorm with given running statistics (ONNX BatchNormalization, inference mode) */
    batchNormInference(x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon?: number): Tensor;
    /** x / max(‖x‖₂, eps) along axis (torch.nn.functional.normalize) */
    l2Normalize(x: Tensor, axis?: number, eps?: number): Tensor;
  }
}

const P = Graph.prototype;

P.layerNorm = function (x, gamma, beta, epsilon = 1e-5, axis = -1) {
  const a = normAxis(axis, x.rank);
  const axes = [...Array(x.rank - a).keys()].map((k) => a + k);
  if (this.decompose) {
    const xc = this.sub(x, this.reduceMean(x, axes, true));
    const y = this.mul(this.div(xc, this.sqrt(this.add(this.reduceMean(this.mul(xc, xc), axes, true), epsilon))), gamma);
    return beta ? this.add(y, beta) : y;
  }
  const stats = x.shape.map((d, i) => (i < a ? d : 1));
  return this.node('LayerNormalization', beta ? [x, gamma, beta] : [x, gamma], { axis: a, epsilon, stash_type: ONNX_DTYPE[x.dtype] }, [
    [x.shape, x.dtype],
    [stats, x.dtype],
    [stats, x.dtype],
  ])[0];
};

// Forward in 6 passes over x (mean, x − μ, its square, the variance, scale, shift), backward in 7 (Σg, Σg·(x − μ),
// then gx = γr·(g − Σg/M) − (x − μ)·γr³·Σg(x − μ)/M, as torch's batch_norm_backward): the generic rules over the
// same ops took 17. M = the count per channel, read at run time when the batch is symbolic.
P.batchNorm = function (x, gamma, beta, epsilon = 1e-5) {
  const axes = [...Array(x.rank).keys()].filter((i) => i !== 1);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const C = x.shape[1];
  let mean!: Tensor, variance!: Tensor, xc!: Tensor, rstd!: Tensor, scale!: Tensor;
  const y = this.customGrad(
    [x, gamma, beta],
    () => {
      mean = this.reduceMean(x, axes, true);
      xc = this.sub(x, mean);
      variance = this.reduceMean(this.mul(xc, xc), axes, true);
      rstd = this.reciprocal(this.sqrt(this.add(variance, epsilon)));
      scale = this.mul(this.reshape(gamma, bshape), rstd);
      return this.add(this.mul(xc, scale), this.reshape(beta, bshape));
    },
    (gy, need) => {
      const sumG = this.reduceSum(gy, axes, true);
      const sumGxc = this.reduceSum(this.mul(gy, xc), axes, true);
      let gx: Tensor | null = null;
      if (need[0]) {
        const invCount = this.reciprocal(this.dimScalar(axes.map((a) => x.shape[a]).reduce<Dim>((p, d) => dimMul(p, d)!, 1), x.dtype));
        const k = this.mul(this.mul(sumGxc, this.mul(rstd, rstd)), this.mul(scale, invCount)); // γr³·Σg(x−μ)/M
        const shift = this.mul(this.mul(sumG, invCount), scale); // γr·Σg/M
        gx = this.sub(this.mul(gy, scale), this.add(this.mul(xc, k), shift));
      }
      const ggam = need[1] && this.reshape(this.mul(sumGxc, rstd), [C]);
      return [gx, ggam, need[2] && this.reshape(sumG, [C])];
    },
  );
  return { y, mean: this.reshape(mean, [C]), var: this.reshape(variance, [C]) };
};

P.batchNormInference = function (x, gamma, beta, mean, variance, epsilon = 1e-5) {
  return this.one('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon }, x.shape);
};

P.l2Normalize = function (x, axis = -1, eps = 1e-12) {
  return this.div(x, this.clip(this.reduceL2(x, [axis], true), eps));
};

// ---------------------------------------------------------------- gradient rules

// gx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·γ and r the forward's InvStdDev output; x̂ = (x−μ)·r is recomputed
// by the same LayerNormalization kernel without γ and β (one pass instead of a Sub and a Mul).
defineVjp('LayerNormalization', (g, { inputs: [x, gam, bet], outputs: [, mean, rstd], attrs }, [gy], need) => {
  const X = x!, G = gy!, a = attrs.axis as number;
  const axes = [...Array(X.rank - a).keys()].map((k) => a + k);
  const normShape = X.shape.slice(a);
  const xhat = isStaticShape(normShape)
    ? g.layerNorm(X, g.const(new Float32Array(numel(normShape) as number).fill(1), normShape, X.dtype), null, attrs.epsilon as number, a)
    : g.mul(g.sub(X, mean!), rstd);
  let gx: Tensor | null = null;
  if (need[0]) {
    const gh = g.mul(G, gam!);
    const t = g.sub(g.sub(gh, g.reduceMean(gh, axes, true)), g.mul(xhat, g.reduceMean(g.mul(gh, xhat), axes, true)));
    gx = g.mul(t, rstd);
  }
  return [gx, need[1] && g.unbroadcast(g.mul(G, xhat), gam!.shape), need[2] && g.unbroadcast(G, bet!.shape)];
});

defineVjp('BatchNormalization', (g, { inputs: [x, gam, , mean, variance], attrs }, [gy], need) => {
  const X = x!, G = gy!, bshape = X.shape.map((d, i) => (i === 1 ? d : 1));
  const axes = [...Array(X.rank).keys()].filter((i) => i !== 1);
  const rstd = g.reciprocal(g.sqrt(g.add(variance!, attrs.epsilon as number)));
  const gx = need[0] && g.mul(G, g.reshape(g.mul(gam!, rstd), bshape));
  const xhat = () => g.mul(g.sub(X, g.reshape(mean!, bshape)), g.reshape(rstd, bshape));
  const ggam = need[1] && g.reshape(g.reduceSum(g.mul(G, xhat()), axes, true), gam!.shape);
  const gbet = need[2] && g.reshape(g.reduceSum(G, axes, true), gam!.shape);
  // y = γ·(x − μ)·r + β with r = (v + ε)^-½: dy/dμ = −γ·r, dy/dv = −½·γ·(x − μ)·r³
  const gmean = need[3] && g.neg(g.mul(g.reshape(g.reduceSum(G, axes, true), gam!.shape), g.mul(gam!, rstd)));
  const gvar = need[4] && g.mul(g.reshape(g.reduceSum(g.mul(G, xhat()), axes, true), gam!.shape), g.mul(gam!, g.mul(g.mul(rstd, rstd), -0.5)));
  return [gx, ggam, gbet, gmean, gvar];
});
