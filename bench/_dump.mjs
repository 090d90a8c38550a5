import onnxProto from 'onnx-proto'; const { onnx } = onnxProto; import { readFileSync } from 'node:fs';
const mp = onnx.ModelProto.decode(readFileSync(process.argv[2]));
const [a, b] = process.argv.slice(3).map(Number);
mp.graph.node.slice(a, b).forEach((n, i) => console.log(a + i, n.opType, n.name, '(', n.input.join(', '), ') ->', n.output.join(', '), n.attribute.map(x => x.name + '=' + (x.i ?? x.f ?? '') + (x.ints?.length ? x.ints.join(',') : '') + (x.t ? '[t ' + (x.t.floatData?.join(',') || (x.t.rawData && Buffer.from(x.t.rawData).length)) + ']' : '')).join(' ')));
