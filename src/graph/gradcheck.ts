// Central finite differences in float64, run in ORT, against the autodiff gradient of the same graph.
// Used by the graph tests and available to model/loss tests.

import { Rng } from '../util/rng.js';
import { isStaticShape, numel } from './dims.js';
import { Graph } from './graph.js';
import { Session, type Feed, type FeedArray } from './run.js';
import type { Tensor } from './tensor.js';

export interface GradCheckOptions {
  /** feeds for graph inputs (float inputs not given are filled with seeded standard normals) */
  feeds?: Record<string, Feed>;
  /** run-time dims for inputs with symbolic dims that are not in `feeds` */
  dims?: Record<string, readonly number[]>;
  /** coordinates checked per tensor: the largest-gradient one, then random ones (default 3) */
  samples?: number;
  /** finite-difference step (default 1e-5) */
  h?: number;
  seed?: number;
  /** build the graph with decomposed Erf/LayerNormalization (default true: float64 needs it) */
  decompose?: boolean;
}

export interface GradCheckTensor {
  name: string;
  maxAbsGrad: number;
  /** worst |fd − ad| / max|ad| over the sampled coordinates */
  relErr: number;
  samples: { index: number; fd: number; ad: number }[];
}

export interface GradCheckResult {
  loss: number;
  tensors: GradCheckTensor[];
  /** the worst relErr over all tensors */
  worst: number;
}

/**
 * Builds `build` in float64, differentiates `loss` w.r.t. `wrt` (graph inputs or parameters) and compares sampled
 * coordinates with central differences of the loss, both evaluated by ORT.
 */
export async function gradCheck(
  build: (g: Graph) => { loss: Tensor; wrt: readonly Tensor[] },
  opts: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const g = new Graph({ dtype: 'double', decompose: opts.decompose ?? true });
  const { loss, wrt } = build(g);
  for (const t of wrt) if (t.kind !== 'input' && t.kind !== 'param') throw new Error(`gradCheck: ${t.name} is not a graph input`);
  const grads = g.grad(loss, wrt);
  const lossOut = g.reduceSum(loss, undefined, false);
  const outs: Record<string, Tensor> = { loss: lossOut };
  wrt.forEach((t, i) => (outs[`grad:${t.name}`] = grads[i]));
  const full = await Session.create(g.toBytes(outs), { intraOpNumThreads: 1 });
  const lossOnly = await Session.create(g.toBytes({ loss: lossOut }), { intraOpNumThreads: 1 });

  const rng = new Rng(opts.seed ?? 1);
  const feeds: Record<string, Feed> = {};
  const data: Record<string, Float64Array> = {};
  for (const t of g.inputs) {
    const given = opts.feeds?.[t.name];
    if (given) {
      feeds[t.name] = given;
      if (given.data instanceof Float64Array) data[t.name] = given.data;
      continue;
    }
    if (t.dtype !== 'double') throw new Error(`gradCheck: no feed for non-float input ${t.name}`);
    const dims = isStaticShape(t.shape) ? t.shape : opts.dims?.[t.name];
    if (!dims) throw new Error(`gradCheck: input ${t.name} has symbolic dims; give dims or a feed`);
    const a = new Float64Array(numel(dims) as number);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    data[t.name] = a;
    feeds[t.name] = { data: a, dims };
  }
  const r = await full.run(feeds);
  const h = opts.h ?? 1e-5, K = opts.samples ?? 3;
  const evalLoss = async () => Number((await lossOnly.run(feeds)).loss.data[0]);
  const tensors: GradCheckTensor[] = [];
  for (const t of wrt) {
    const x = data[t.name];
    if (!x) throw new Error(`gradCheck: ${t.name} needs a Float64Array feed`);
    const ad = r[`grad:${t.name}`].data as FeedArray as Float64Array;
    let maxAbs = 0, arg = 0;
    for (let i = 0; i < ad.length; i++) if (Math.abs(ad[i]) > maxAbs) [maxAbs, arg] = [Math.abs(ad[i]), i];
    const idx = [arg];
    for (let k = 1; k < Math.min(K, x.length); k++) idx.push(rng.int(x.length));
    const samples: GradCheckTensor['samples'] = [];
    let relErr = 0;
    for (const i of idx) {
      const x0 = x[i];
      x[i] = x0 + h;
      const lp = await evalLoss();
      x[i] = x0 - h;
      const lm = await evalLoss();
      x[i] = x0;
      const fd = (lp - lm) / (2 * h);
      samples.push({ index: i, fd, ad: ad[i] });
      relErr = Math.max(relErr, Math.abs(fd - ad[i]) / Math.max(maxAbs, 1e-12));
    }
    tensors.push({ name: t.name, maxAbsGrad: maxAbs, relErr, samples });
  }
  await full.release();
  await lossOnly.release();
  return { loss: Number(r.loss.data[0]), tensors, worst: Math.max(0, ...tensors.map((t) => t.relErr)) };
}

export interface OpCheckOptions extends GradCheckOptions {
  /** indices of inputs fed with positive values (0.5 .. 2.5) instead of normals */
  positive?: readonly number[];
}

/**
 * gradCheck for one op (or a small composite): inputs x0, x1, ... of the given static shapes, the loss
 * sum(f(x...) · r) for a random r, gradients w.r.t. every input.
 */
export function gradCheckOp(
  f: (g: Graph, xs: Tensor[]) => Tensor,
  shapes: readonly (readonly number[])[],
  opts: OpCheckOptions = {},
): Promise<GradCheckResult> {
  const rng = new Rng((opts.seed ?? 1) + 7919);
  const feeds: Record<string, Feed> = { ...opts.feeds };
  for (const i of opts.positive ?? []) {
    const a = new Float64Array(numel(shapes[i]) as number);
    for (let k = 0; k < a.length; k++) a[k] = rng.uniform(0.5, 2.5);
    feeds[`x${i}`] = { data: a, dims: shapes[i] };
  }
  return gradCheck(
    (g) => {
      const xs = shapes.map((s, i) => g.input(`x${i}`, s));
      const y = f(g, xs);
      const r = g.input('r', y.shape);
      return { loss: g.reduceSum(g.mul(y, r), undefined, false), wrt: xs };
    },
    { ...opts, feeds },
  );
}
