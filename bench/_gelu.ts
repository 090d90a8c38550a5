import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto'; const { onnx } = onnxProto;
import { readFileSync } from 'node:fs';
import { Graph, toBytes } from '../src/graph/index.js';
const variants: Record<string, (g: Graph, x: any) => any> = {
  mulHalf_div: (g, x) => g.mul(g.mul(x, 0.5), g.add(g.erf(g.div(x, Math.SQRT2)), 1)),
  mulHalf_mul: (g, x) => g.mul(g.mul(x, 0.5), g.add(g.erf(g.mul(x, Math.SQRT1_2)), 1)),
  pattern2_div: (g, x) => g.mul(g.mul(x, g.add(g.erf(g.div(x, Math.SQRT2)), 1)), 0.5),
  pattern2_mul: (g, x) => g.mul(g.mul(x, g.add(g.erf(g.mul(x, Math.SQRT1_2)), 1)), 0.5),
};
for (const [name, f] of Object.entries(variants)) {
  const g = new Graph(); const x = g.input('x', [4, 8]); const y = f(g, x);
  const p = `/tmp/dtopt/gelu_${name}.onnx`;
  await ort.InferenceSession.create(toBytes(g, { y }).bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath: p, logSeverityLevel: 3 });
  const mp = onnx.ModelProto.decode(readFileSync(p));
  console.log(name, mp.graph.node.map((n: any) => n.opType).join(' '));
}
