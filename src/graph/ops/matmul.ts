// MatMul, Gemm and linear layers, with their gradient rules.

import { Graph } from '../core.js';
import { broadcastShapes, dimEq, fmtShape } from '../dims.js';
import type { Tensor } from '../tensor.js';
import { defineVjp } from '../vjp.js';

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

declare module '../core.js' {
  interface Graph {
    /** numpy matmul for rank >= 2 (batch dims broadcast) */
    matmul(a: Tensor, b: Tensor): Tensor;
    /** ONNX Gemm on 2-D a, b: alpha·op(a)·op(b) + beta·c */
    gemm(a: Tensor, b: Tensor, c?: Tensor | null, opts?: GemmOptions): Tensor;
    /**
     * alpha·op(a)·op(b) over equal batch dims, op = optional swap of the last two axes: one ORT FusedMatMul (no
     * transposed copy) with contribOps, else MatMul with Transpose and Mul nodes
     */
    matmulT(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean; alpha?: number }): Tensor;
    /** torch.nn.Linear: x @ wᵀ + b with w [out, in] (PyTorch layout), as one Gemm over the flattened leading dims */
    linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor;
  }
}

const P = Graph.prototype;

P.matmul = function (a, b) {
  if (a.rank < 2 || b.rank < 2) throw new Error('matmul needs rank >= 2');
  if (!dimEq(a.shape[a.rank - 1], b.shape[b.rank - 2])) throw new Error(`matmul ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return this.one('MatMul', [a, b], null, [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]]);
};

P.gemm = function (a, b, c, opts = {}) {
  if (a.rank !== 2 || b.rank !== 2) throw new Error('gemm needs 2-D a and b');
  const [m, k] = opts.transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = opts.transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (!dimEq(k, k2)) throw new Error(`gemm ${fmtShape(a.shape)} x ${fmtShape(b.shape)} (transA ${!!opts.transA}, transB ${!!opts.transB})`);
  if (c) broadcastShapes([m, n], c.shape);
  const attrs = { transA: opts.transA ? 1 : 0, transB: opts.transB ? 1 : 0, alpha: opts.alpha ?? 1, beta: opts.beta ?? 1 };
  return this.one('Gemm', c ? [a, b, c] : [a, b], attrs, [m, n]);
};

P.matmulT = function (a, b, { transA = false, transB = false, alpha = 1 }) {
  if (!this.contribOps || a.dtype !== 'float') {
    const y = this.matmul(transA ? this.swapLast(a) : a, transB ? this.swapLast(b) : b);
    return alpha === 1 ? y : this.mul(y, alpha);
  }
  if (a.rank < 2 || a.rank !== b.rank || a.shape.slice(0, -2).some((d, i) => !dimEq(d, b.shape[i]))) throw new Error(`matmulT ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}: equal batch dims`);
  const [m, k] = transA ? [a.shape[a.rank - 1], a.shape[a.rank - 2]] : [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [k2, n] = transB ? [b.shape[b.rank - 1], b.shape[b.rank - 2]] : [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  if (!dimEq(k, k2)) throw new Error(`matmulT ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (transA ${transA}, transB ${transB})`);
  const attrs = { alpha, transA: transA ? 1 : 0, transB: transB ? 1 : 0 };
  return this.node('FusedMatMul', [a, b], attrs, [[[...a.shape.slice(0, -2), m, n], a.dtype]], { domain: 'com.microsoft' })[0];
};

// Tokens are flattened into one Gemm: its VJP is then two Gemms (g·W and gᵀ·x, already in [out, in] layout)
// and a ReduceSum, with no transposed copies of the weight.
P.linear = function (x, w, b) {
  if (w.rank !== 2) throw new Error('linear weight must be [out, in]');
  if (x.rank < 2) throw new Error('linear input needs rank >= 2');
  if (x.rank === 2) return this.gemm(x, w, b ?? null, { transB: true });
  const y = this.gemm(this.reshape(x, [-1, x.shape[x.rank - 1]]), w, b ?? null, { transB: true });
  return this.reshape(y, [...x.shape.slice(0, -1), w.shape[0]]);
};

// ---------------------------------------------------------------- gradient rules

defineVjp('MatMul', (g, { inputs: [a, b] }, [gy], need) => {
  const A = a!, B = b!, G = gy!;
  let ga: Tensor | null = null, gb: Tensor | null = null;
  // same batch dims, training graph: the transposed operands as FusedMatMul flags (no transposed copies, which ORT
  // does not always fuse away once its transpose optimiser has merged them with the forward's head transposes)
  const fused = g.contribOps && A.dtype === 'float' && A.rank === B.rank && A.shape.slice(0, -2).every((d, i) => dimEq(d, B.shape[i]));
  if (need[0]) ga = fused ? g.matmulT(G, B, { transB: true }) : g.unbroadcast(g.matmul(G, g.swapLast(B)), A.shape);
  if (fused && need[1]) gb = g.matmulT(A, G, { transA: true });
  else if (need[1]) {
    if (B.rank === 2 && A.rank > 2) {
      // a weight matrix: fold the batch dims into one GEMM instead of a batched matmul and a ReduceSum
      const a2 = g.reshape(A, [-1, A.shape[A.rank - 1]]), g2 = g.reshape(G, [-1, G.shape[G.rank - 1]]);
      gb = g.gemm(a2, g2, null, { transA: true });
    } else gb = g.unbroadcast(g.matmul(g.swapLast(A), G), B.shape);
  }
  return [ga, gb];
});

// y = α·op(a)·op(b): each gradient is again one FusedMatMul with the transposes folded in.
defineVjp('FusedMatMul', (g, { inputs: [a, b], attrs }, [gy], need) => {
  const tA = attrs.transA === 1, tB = attrs.transB === 1, alpha = attrs.alpha as number, A = a!, B = b!, G = gy!;
  const ga = need[0] && (tA ? g.matmulT(B, G, { transA: tB, transB: true, alpha }) : g.matmulT(G, B, { transB: !tB, alpha }));
  const gb = need[1] && (tB ? g.matmulT(G, A, { transA: true, transB: tA, alpha }) : g.matmulT(A, G, { transA: !tA, alpha }));
  return [ga, gb];
});

defineVjp('Gemm', (g, { inputs: [a, b, c], attrs }, [gy], need) => {
  const tA = attrs.transA === 1, tB = attrs.transB === 1, alpha = attrs.alpha as number, beta = attrs.beta as number;
  const A = a!, B = b!, G = gy!;
  const ga = need[0] && (tA ? g.gemm(B, G, null, { transA: tB, transB: true, alpha }) : g.gemm(G, B, null, { transB: !tB, alpha }));
  const gb = need[1] && (tB ? g.gemm(G, A, null, { transA: true, transB: tA, alpha }) : g.gemm(A, G, null, { transA: !tA, alpha }));
  const gc = need[2] && g.unbroadcast(beta === 1 ? G : g.mul(G, beta), c!.shape);
  return [ga, gb, gc];
});
