// Writing the backbone at opset 17 instead of the builder's 18. Between the two, the ops the backbone graphs use
// changed in two ways: Reduce{Mean,Max,Min,L1,L2,LogSum,LogSumExp,Prod,SumSquare} take `axes` as an input in 18 and
// as an attribute in 17 (ReduceSum has taken an input since 13), and Split gained the `num_outputs` attribute in 18
// (in 17 a Split without sizes divides evenly into as many parts as it has outputs). Both are rewritten here; any
// other op whose opset-18 form differs from 17 is refused, so a written opset-17 file never relies on 18.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type NodeProto = onnxProto.onnx.INodeProto;

export const SUPPORTED_OPSETS = [17, 18] as const;
export type Opset = (typeof SUPPORTED_OPSETS)[number];

const REDUCE_AXES_INPUT_SINCE_18 = new Set([
  'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceProd', 'ReduceSumSquare',
]);
/** Ops that are new in 18 or whose 18 form has no exact 17 equivalent written here. */
const CHANGED_IN_18 = new Set([
  'Resize', 'ScatterElements', 'ScatterND', 'LpPool', 'Col2Im', 'GroupNormalization', 'CenterCropPad', 'Mish',
  'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'BitwiseNot', 'OptionalHasElement', 'OptionalGetElement',
]);

/** int64 values of a constant (a Constant node's `value` or an initializer), or undefined when unknown. */
function constInts(model: ModelProto, name: string): number[] | undefined {
  const graph = model.graph!;
  const t =
    (graph.initializer ?? []).find((i) => i.name === name) ??
    (graph.node ?? []).find((n) => n.opType === 'Constant' && n.output?.[0] === name)?.attribute?.find((a) => a.name === 'value')?.t;
  if (!t || t.dataType !== onnx.TensorProto.DataType.INT64) return undefined;
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return Array.from(new BigInt64Array(copy.buffer), Number);
  }
  return (t.int64Data ?? []).map(Number);
}

function setInts(node: NodeProto, name: string, values: number[]): void {
  node.attribute = [...(node.attribute ?? []).filter((a) => a.name !== name), { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values }];
}

/** Rewrites an opset-18 model in place to opset 17; throws (a plain Error: our own graph) on what it cannot. */
export function convertToOpset17(model: ModelProto): void {
  const graph = model.graph!;
  const nodes = graph.node ?? [];
  for (const node of nodes) {
    const op = node.opType ?? '';
    if (node.domain) continue;
    if (CHANGED_IN_18.has(op)) throw new Error(`opset 17: the graph uses ${op}, whose opset-18 form has no opset-17 rewrite here`);
    if (op === 'Pad' && (node.input?.length ?? 0) > 3) throw new Error('opset 17: Pad with an axes input (new in 18)');
    if (REDUCE_AXES_INPUT_SINCE_18.has(op) && (node.input?.length ?? 0) > 1 && node.input![1]) {
      const axes = constInts(model, node.input![1]);
      if (!axes) throw new Error(`opset 17: ${op} node ${node.name} has run-time axes (an attribute in 17)`);
      node.input = [node.input![0]];
      setInts(node, 'axes', axes);
    }
    if (op === 'Split') {
      const n = node.attribute?.find((a) => a.name === 'num_outputs');
      if (n) {
        if (Number(n.i) !== node.output?.length) throw new Error(`opset 17: Split ${node.name} has num_outputs ${n.i} but ${node.output?.length} outputs`);
        node.attribute = node.attribute!.filter((a) => a.name !== 'num_outputs');
      }
    }
  }
  // Constants only the rewritten nodes read are now dead: drop them.
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) used.add(i);
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  graph.node = nodes.filter((n) => n.opType !== 'Constant' || used.has(n.output?.[0] ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  for (const o of model.opsetImport) if (!o.domain) o.version = 17;
}
