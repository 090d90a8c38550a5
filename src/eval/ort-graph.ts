// Tiny hand-written ONNX graphs for eval's heavy linear algebra (similarities, top-k, softmax
// regression gradients): ONNX Runtime's GEMM is 10x+ faster than JS loops on the same cores.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;

export type ElemType = 'float32' | 'float64' | 'int64';

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
};

export function valueInfo(name: string, type: ElemType, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
}

export function node(opType: string, input: string[], output: string[], ints: Record<string, number> = {}) {
  return {
    opType,
    input,
    output,
    name: output[0],
    attribute: Object.entries(ints).map(([name, i]) => ({ name, type: AttributeType.INT, i })),
  };
}

export function int64Initializer(name: string, values: number[]) {
  return { name, dataType: ELEM.int64, dims: [values.length], int64Data: values };
}

export async function createSession(graph: onnxProto.onnx.IGraphProto): Promise<ort.InferenceSession> {
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'dinotrain-eval', graph });
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
}
