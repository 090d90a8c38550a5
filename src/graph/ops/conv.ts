// Conv and ConvTranspose (NC + spatial dims, spatial sizes static, batch may be symbolic) and their gradient
// rules: Conv's input gradient is a ConvTranspose, its weight gradient a Conv over batch-transposed tensors.

import { Graph } from '../core.js';
import { fmtShape, isStaticShape } from '../dims.js';
import type { Tensor } from '../tensor.js';
import { defineVjp } from '../vjp.js';
import { convAsGemm, forwardAsGemm, weightGradAsGemm, weightGradAsGemm2d, type Conv2dGeometry } from './conv-gemm.js';

export interface ConvOptions {
  strides?: readonly number[];
  /** [begin_0.., end_0..] per spatial axis */
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: readonly number[];
}

declare module '../core.js' {
  interface Graph {
    /** Conv with PyTorch weight layout [O, C/group, k...]; b [O] optional */
    conv(x: Tensor, w: Tensor, b?: Tensor | null, opts?: ConvOptions): Tensor;
    /** ConvTranspose with weight [C_in, C_out/group, k...] */
    convTranspose(x: Tensor, w: Tensor, b?: Tensor | null, opts?: ConvTransposeOptions): Tensor;
  }
}

interface Geometry {
  k: number[];
  s: number[];
  p: number[];
  d: number[];
  group: number;
}

function geometry(op: string, x: Tensor, w: Tensor, opts: ConvOptions): Geometry {
  const sp = x.rank - 2;
  if (sp < 1 || w.rank !== x.rank) throw new Error(`${op}: x ${fmtShape(x.shape)} and w ${fmtShape(w.shape)} ranks`);
  if (!isStaticShape(x.shape.slice(2)) || !isStaticShape(w.shape)) throw new Error(`${op}: spatial dims and weights must be static`);
  const k = w.shape.slice(2) as number[];
  return {
    k,
    s: [...(opts.strides ?? k.map(() => 1))],
    p: [...(opts.pads ?? [...k, ...k].map(() => 0))],
    d: [...(opts.dilations ?? k.map(() => 1))],
    group: opts.group ?? 1,
  };
}

const attrsOf = (g: Geometry, extra: Record<string, number | number[]> = {}) => ({
  kernel_shape: g.k,
  strides: g.s,
  pads: g.p,
  dilations: g.d,
  group: g.group,
  ...extra,
});

const P = Graph.prototype;

const outSize = (x: Tensor, geo: Geometry): number[] =>
  (x.shape.slice(2) as number[]).map((n, i) => Math.floor((n + geo.p[i] + geo.p[i + geo.k.length] - geo.d[i] * (geo.k[i] - 1) - 1) / geo.s[i]) + 1);

/**
 * The sliding windows of x as [N, C, prod(k), out...] (im2col from Pad + strided Slices). Decompose mode uses it
 * for Conv and AveragePool, which ORT's CPU build lacks in float64; autodiff then goes through Slice/Pad/MatMul.
 */
export function windows(g: Graph, x: Tensor, k: readonly number[], s: readonly number[], p: readonly number[], d: readonly number[]): Tensor {
  const sp = k.length, out = outSize(x, { k: [...k], s: [...s], p: [...p], d: [...d], group: 1 });
  const xp = g.pad(x, [0, 0, ...p.slice(0, sp), 0, 0, ...p.slice(sp)]);
  const axes = k.map((_, i) => i + 2);
  const cols: Tensor[] = [];
  const offs = new Array<number>(sp).fill(0);
  for (;;) {
    const starts = offs.map((o, i) => o * d[i]);
    cols.push(g.unsqueeze(g.slice(xp, starts, starts.map((st, i) => st + (out[i] - 1) * s[i] + 1), axes, s), [2]));
    let i = sp - 1;
    while (i >= 0 && ++offs[i] === k[i]) offs[i--] = 0;
    if (i < 0) break;
  }
  return g.concat(cols, 2);
}

P.conv = function (x, w, b, opts = {}) {
  const geo = geometry('conv', x, w, opts);
  if (x.shape[1] !== (w.shape[1] as number) * geo.group) throw new Error(`conv: ${x.shape[1]} input channels vs weight ${fmtShape(w.shape)}, group ${geo.group}`);
  const out = outSize(x, geo), N = x.shape[0], O = w.shape[0] as number, G = geo.group;
  if (this.decompose) {
    const cols = windows(this, x, geo.k, geo.s, geo.p, geo.d); // [N, C, K, out...]
    const ck = ((x.shape[1] as number) / G) * geo.k.reduce((a, v) => a * v, 1), L = out.reduce((a, v) => a * v, 1);
    const y = this.matmul(this.reshape(w, [G, O / G, ck]), this.reshape(cols, [N, G, ck, L])); // [N, G, O/G, L]
    const yr = this.reshape(y, [N, O, ...out]);
    return b ? this.add(yr, this.reshape(b, [O, ...out.map(() => 1)])) : yr;
  }
  if (this.convGemm && forwardAsGemm(x, G, geo2d(geo))) {
    const y = convAsGemm(this, x, w, geo2d(geo));
    return b ? this.add(y, this.reshape(b, [O, 1, 1])) : y;
  }
  return this.one('Conv', b ? [x, w, b] : [x, w], attrsOf(geo), [N, O, ...out]);
};

/** pads [begin.., end..] are already conv-gemm's [top, left, bottom, right] for 2-D */
const geo2d = (geo: Geometry): Conv2dGeometry => ({ k: geo.k, s: geo.s, p: geo.p, d: geo.d });

P.convTranspose = function (x, w, b, opts = {}) {
  const geo = geometry('convTranspose', x, w, opts), sp = geo.k.length;
  if (this.decompose) throw new Error('convTranspose has no decomposed (float64) form');
  if (x.shape[1] !== w.shape[0]) throw new Error(`convTranspose: ${x.shape[1]} input channels vs weight ${fmtShape(w.shape)}`);
  const op = [...(opts.outputPadding ?? geo.k.map(() => 0))];
  const out = (x.shape.slice(2) as number[]).map((n, i) => geo.s[i] * (n - 1) + op[i] + (geo.k[i] - 1) * geo.d[i] + 1 - geo.p[i] - geo.p[i + sp]);
  return this.one('ConvTranspose', b ? [x, w, b] : [x, w], attrsOf(geo, { output_padding: op }), [x.shape[0], (w.shape[1] as number) * geo.group, ...out]);
};

// ---------------------------------------------------------------- gradient rules

function geoFromAttrs(a: Readonly<Record<string, unknown>>): Geometry {
  return { k: a.kernel_shape as number[], s: a.strides as number[], p: a.pads as number[], d: a.dilations as number[], group: a.group as number };
}

/** w [O, C, k...] -> [C, O, k...] with every spatial axis reversed (one Transpose and one Gather). */
function flippedTransposedKernel(g: Graph, w: Tensor, k: readonly number[]): Tensor {
  const [O, C] = w.shape as number[];
  const kk = k.reduce((a, b) => a * b, 1);
  const t = g.transpose(w, [1, 0, ...k.map((_, i) => i + 2)]);
  if (kk === 1) return t;
  const reversed = Array.from({ length: kk }, (_, i) => kk - 1 - i); // reversing the flattened window flips every axis
  return g.reshape(g.gather(g.reshape(t, [C, O, kk]), reversed, 2), [C, O, ...k]);
}

/** Sums over all axes but the channel axis 1: the bias gradient. */
const biasGrad = (g: Graph, gy: Tensor): Tensor => g.reduceSum(gy, [...Array(gy.rank).keys()].filter((i) => i !== 1), false);

/**
 * out[i, j, kk] = Σ_n,t a[n, i, t] · b[n, j, kk·strideP + t·dilP − pad], cropped to kernel size k: one Conv whose
 * input is b and whose kernel is a, both with the batch axis moved into the channels. With groups, a's channel
 * block q is correlated with b's block q. Returns [channels of a, channels of b / group, k...].
 */
function kernelCorrelation(g: Graph, a: Tensor, b: Tensor, k: number[], strideP: number[], dilP: number[], pads: number[], group: number): Tensor {
  const sp = k.length, sAxes = [...Array(sp).keys()].map((i) => i + 2);
  const N = a.shape[0], Ca = a.shape[1] as number;
  // input: b with the batch as channels, [Cb.., N, S] -> for groups: [Cb/group, group*N, S] ordered (group, n)
  // weight: a transposed, [Ca, N, k-sized window of a's spatial dims]
  let inp: Tensor;
  const Cb = b.shape[1] as number;
  if (group === 1) inp = g.transpose(b, [1, 0, ...sAxes]);
  else {
    const bs = b.shape.slice(2);
    inp = g.reshape(g.transpose(g.reshape(b, [N, group, Cb / group, ...bs]), [2, 1, 0, ...sAxes.map((i) => i + 1)]), [Cb / group, -1, ...bs]);
  }
  const wt = g.transpose(a, [1, 0, ...sAxes]);
  const out = g.one('Conv', [inp, wt], { kernel_shape: a.shape.slice(2) as number[], strides: strideP, pads, dilations: dilP, group }, [
    inp.shape[0],
    Ca,
    ...(inp.shape.slice(2) as number[]).map((n, i) => Math.floor((n + pads[i] + pads[i + sp] - dilP[i] * ((a.shape[i + 2] as number) - 1) - 1) / strideP[i]) + 1),
  ]);
  // out: [Cb/group, Ca, k'...] -> crop to k -> [Ca, Cb/group, k]
  const cropped = g.slice(out, k.map(() => 0), k, sAxes);
  return g.transpose(cropped, [1, 0, ...sAxes]);
}

defineVjp('Conv', (g, { inputs: [x, w, b], attrs }, [gy], need) => {
  const X = x!, W = w!, G = gy!, geo = geoFromAttrs(attrs), sp = geo.k.length;
  let gx: Tensor | null = null, gw: Tensor | null = null;
  if (need[0]) {
    // stride 1: gx is a plain Conv of g with the kernel flipped and its channel axes swapped (ORT's Conv is several
    // times faster than its ConvTranspose, e.g. 512x512x3x3 on a 2x2 map); other strides go through ConvTranspose
    const full = geo.k.map((k, i) => geo.d[i] * (k - 1));
    if (geo.group === 1 && geo.s.every((v) => v === 1) && geo.p.every((v, i) => v <= full[i % sp])) {
      gx = g.conv(G, flippedTransposedKernel(g, W, geo.k), null, { pads: geo.p.map((v, i) => full[i % sp] - v), dilations: geo.d });
    } else {
      const outPad = (X.shape.slice(2) as number[]).map(
        (n, i) => n - ((G.shape[i + 2] as number) - 1) * geo.s[i] + geo.p[i] + geo.p[i + sp] - geo.d[i] * (geo.k[i] - 1) - 1,
      );
      gx = g.convTranspose(G, W, null, { strides: geo.s, pads: geo.p, dilations: geo.d, group: geo.group, outputPadding: outPad });
    }
  }
  // gw[o, c, kk] = Σ_n,t g[n, o, t] · x[n, c, t·s + kk·d − p]: correlate x (input) with g (kernel), stride d, dilation s
  if (need[1] && g.convGemm && weightGradAsGemm(X, geo.group)) gw = weightGradAsGemm2d(g, G, X, geo2d(geo));
  else if (need[1]) gw = kernelCorrelation(g, G, X, geo.k, geo.d, geo.s, geo.p, geo.group);
  return [gx, gw, need[2] && biasGrad(g, G)];
});

defineVjp('ConvTranspose', (g, { inputs: [x, w, b], attrs }, [gy], need) => {
  const X = x!, W = w!, G = gy!, geo = geoFromAttrs(attrs);
  const gx = need[0] && g.conv(G, W, null, { strides: geo.s, pads: geo.p, dilations: geo.d, group: geo.group });
  let gw: Tensor | null = null;
  if (need[1]) {
    if (geo.group !== 1) throw new Error('ConvTranspose weight gradient with groups is not supported');
    // gw[c, o, kk] = Σ_n,i x[n, c, i] · g[n, o, i·s + kk·d − p]
    gw = kernelCorrelation(g, X, G, geo.k, geo.d, geo.s, geo.p, 1);
  }
  return [gx, gw, need[2] && biasGrad(g, G)];
});

