import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto'; const { onnx } = onnxProto;
import { readFileSync, writeFileSync } from 'node:fs';
import { resolvePretrainConfig } from '../src/config/load.js';
import { Dino } from '../src/methods/dino.js';
const orig = ort.InferenceSession.create; let k = 0;
(ort.InferenceSession as any).create = async (m: any, o: any) => { const i = k++; writeFileSync(`/tmp/dtopt/raw${i}.onnx`, m); return (orig as any).call(ort.InferenceSession, m, { ...o, optimizedModelFilePath: `/tmp/dtopt/opt${i}.onnx` }); };
const cfg = resolvePretrainConfig({ method_args: { output_dim: 4096 }, transforms: { global: { size: 96, count: 2 }, local: { size: 48, count: 6 } } }, { data: 'x', out: 'y', batch_size: 32, model: process.env.MODEL ?? 'vit-tiny/16', model_args: process.env.DEPTH ? { depth: Number(process.env.DEPTH) } : {} });
const m = new Dino({ cfg, datasetSize: 100, session: { providers: ['cpu'], threads: 2 } });
await m.init();
for (let i = 0; i < k; i++) for (const f of [`raw${i}`, `opt${i}`]) {
  const mp = onnx.ModelProto.decode(readFileSync(`/tmp/dtopt/${f}.onnx`));
  const c: Record<string, number> = {}; for (const n of mp.graph.node) c[(n.domain ? n.domain + ':' : '') + n.opType] = (c[(n.domain ? n.domain + ':' : '') + n.opType] ?? 0) + 1;
  console.log(f, mp.graph.node.length, JSON.stringify(Object.entries(c).sort((a, b) => b[1] - a[1])));
}
