import onnxProto from 'onnx-proto'; const { onnx } = onnxProto;
import * as ort from 'onnxruntime-node';
async function tryOp(op, domain, nIn, attrs = []) {
  const inputs = [...Array(nIn)].map((_, i) => `x${i}`);
  const g = onnx.GraphProto.create({ name: 'g', node: [onnx.NodeProto.create({ opType: op, domain, input: inputs, output: ['y'], attribute: attrs })],
    input: inputs.map(n => onnx.ValueInfoProto.create({ name: n, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }, { dimValue: 8 }] } } } })),
    output: [onnx.ValueInfoProto.create({ name: 'y', type: { tensorType: { elemType: 1 } } })] });
  const m = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 18 }, { domain: 'com.microsoft', version: 1 }], graph: g });
  const bytes = onnx.ModelProto.encode(m).finish();
  try { const s = await ort.InferenceSession.create(bytes); const f = {}; for (const n of inputs) f[n] = new ort.Tensor('float32', Float32Array.from({length: 32}, (_, i) => (i - 16) / 8), [4, 8]);
    const r = await s.run(f); console.log(op, 'OK', Array.from(r.y.data.slice(0, 4)).map(v => v.toFixed(4)).join(' ')); }
  catch (e) { console.log(op, 'FAIL', String(e.message).slice(0, 120)); }
}
for (const [op, n] of [['Gelu', 1], ['GeluGrad', 2], ['FastGeluGrad', 2], ['BiasGeluGrad_dX', 3], ['BiasGelu', 2], ['QuickGelu', 1], ['SoftmaxGrad', 2], ['SoftmaxGrad_13', 2], ['LayerNormalizationGrad', 5], ['SimplifiedLayerNormalization', 2], ['SkipLayerNormalization', 3], ['ReluGrad', 2], ['FusedMatMul', 2], ['BiasSoftmax', 2]]) await tryOp(op, 'com.microsoft', n);
