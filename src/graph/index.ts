/**
 * src/graph — an ONNX graph builder with symbolic shapes, reverse-mode autodiff and serialisation.
 *
 *   const g = new Graph();                          // float32; { dtype: 'double' } for finite-difference tests;
 *                                                   // { paramValues: Map<name, Float32Array> } -> params are initializers
 *   const x = g.input('x', ['N', 3, 32, 32]);       // dims: numbers or names ('N'); '2*N' style products are derived
 *   const w = g.param('conv.weight', [8, 3, 3, 3]); // a graph input named as given (or an initializer in export mode)
 *   const y = g.relu(g.conv(x, w, null, { pads: [1, 1, 1, 1] }));
 *   const loss = g.reduceMean(g.mul(y, y), undefined, false);
 *   const [gw] = g.grad(loss, [w]);                 // backward nodes appended to the same graph
 *   const bytes = g.toBytes({ loss, 'grad:conv.weight': gw }, { metadata: { arch: 'toy' } });
 *   const s = await Session.create(bytes, { intraOpNumThreads: 2 });
 *   const out = await s.run({ x: { data, dims: [2, 3, 32, 32] }, 'conv.weight': { data: wData, dims: [8, 3, 3, 3] } });
 *
 * Graph (builder; ops live in ops/*.ts, each op's VJP rule next to it):
 *   inputs/constants  input(name, shape, dtype?) param(name, shape) initializer(name, values, shape, dtype?)
 *                     const(values, shape?, dtype?) scalar(v, dtype?) i64(values) lift(v, like?) full(shape, v, dtype?)
 *                     zerosLike(t) onesLike(t) range(n) eye(n) eyeMask(n) oneHot(idx, depth) shapeOf(x) dimTensor(d)
 *                     dimScalar(d)
 *   elementwise       add sub mul div pow max min where neg exp log sqrt reciprocal abs sign erf tanh sigmoid relu gelu
 *                     clip(x, min?, max?) identity stopGradient cast equal greater less greaterOrEqual
 *                     lessOrEqual not and or
 *   reductions        reduceSum/Mean/Max/Min/L2/SumSquare/LogSumExp(x, axes?, keepdims=true) softmax logSoftmax
 *                     argMax argMin topK
 *   shape             reshape transpose swapLast flatten concat slice(x, starts, ends, axes?, steps?) split gather
 *                     gatherElements scatterElements expand unsqueeze squeeze pad unbroadcast
 *   layers            matmul matmulT(a, b, { transA, transB, alpha }) gemm linear(x, w[out,in], b?) layerNorm
 *                     batchNorm -> {y, mean, var} batchNormInference l2Normalize conv convTranspose maxPool
 *                     averagePool globalAveragePool
 *   autodiff          grad(loss, wrt[], { seed? }) -> Tensor[]; customGrad(inputs, build, vjp): a composite with
 *                     its own gradient rule
 *   serialisation     toModel(outputs, opts) -> { bytes, nodeCount, ops }  toBytes(outputs, opts)  toModelProto(...)
 *                     opts: { metadata?, docString?, producerName?, pruneInputs? }; readModelInfo(bytes)
 * Gradient checks (gradcheck.ts): gradCheck(build, opts) / gradCheckOp(f, shapes, opts): float64 autodiff vs central
 *                     finite differences, both run in ORT -> { loss, tensors: [{ name, relErr, maxAbsGrad }], worst }
 * Session (run.ts):   Session.create(bytes | path, { intraOpNumThreads, graphOptimizationLevel, executionProviders })
 *                     session.run(feeds, outputs?) -> Record<name, { data, dims, type }>
 * Opset 18, IR 8. ORT's CPU build has no float64 Erf, LayerNormalization, Conv, ConvTranspose, AveragePool or
 * GlobalAveragePool: Graph({ dtype: 'double' }) (decompose mode) writes them as plain ops (im2col for Conv and
 * AveragePool; convTranspose throws). Symbolic dims are read at run time from the graph input that declared them.
 */
export { Graph } from './graph.js';
export type { GraphOptions, ParamInfo, ParamValues } from './core.js';
export { Tensor, type AttrValue, type ConstData, type GraphNode, type TensorKind } from './tensor.js';
export type { ConstValues, DType, Dim, Shape, TypedArray } from './types.js';
export { ONNX_DTYPE, toTypedArray } from './types.js';
export { broadcastShapes, canon, dimAdd, dimDiv, dimEq, dimMul, fmtShape, isStatic, isStaticShape, numel, shapeEq } from './dims.js';
export type { GradOptions } from './autodiff.js';
export { defineVjp, defineNonDifferentiable, type VjpRule } from './vjp.js';
export { OPSET, readModelInfo, toBytes, toModelProto, type BuiltModel, type ModelOptions } from './serialize.js';
export { END, constInts } from './ops/shape-ops.js';
export type { GemmOptions } from './ops/matmul.js';
export type { BatchNormResult } from './ops/norm.js';
export type { ConvOptions, ConvTransposeOptions } from './ops/conv.js';
export type { PoolOptions } from './ops/pool.js';
export { Session, type Feed, type FeedArray, type GraphSessionOptions, type OutputTensor } from './run.js';
export { gradCheck, gradCheckOp, type GradCheckOptions, type GradCheckResult, type GradCheckTensor, type OpCheckOptions } from './gradcheck.js';
