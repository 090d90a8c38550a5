// Serialisation to an ONNX ModelProto (opset 18, IR 8) with onnx-proto, with dead-node removal.

import onnxProto from 'onnx-proto';
import type { Graph } from './core.js';
import type { AttrValue, ConstData, GraphNode, Tensor } from './tensor.js';
import { ONNX_DTYPE, type Dim } from './types.js';

const { onnx } = onnxProto;

export const OPSET = 18;
export const IR_VERSION = 8;

/** Attributes written as FLOAT (protobufjs cannot tell 1.0 from 1). */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'momentum', 'value_float', 'gamma', 'bias', 'lambd']);

export interface ModelOptions {
  /** key/value pairs stored in ModelProto.metadata_props */
  metadata?: Record<string, string>;
  docString?: string;
  producerName?: string;
  /** drop graph inputs nothing reads (default false: every declared input stays, so feeds never go stale) */
  pruneInputs?: boolean;
}

export interface BuiltModel {
  bytes: Uint8Array;
  /** number of nodes written */
  nodeCount: number;
  /** op type -> count, most frequent first */
  ops: Record<string, number>;
}

function tensorProto(name: string, d: ConstData): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength);
  return { name, dataType: ONNX_DTYPE[d.dtype], dims: [...d.shape], rawData: bytes.slice() };
}

function encodeAttr(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? { name, type: T.FLOAT, f: v } : { name, type: T.INT, i: v };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: T.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    const nums = v as number[];
    return FLOAT_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x)) ? { name, type: T.FLOATS, floats: nums } : { name, type: T.INTS, ints: nums };
  }
  return { name, type: T.TENSOR, t: tensorProto('', v as ConstData) };
}

function valueInfo(name: string, t: Tensor): onnxProto.onnx.IValueInfoProto {
  const dim = t.shape.map((d: Dim) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ONNX_DTYPE[t.dtype], shape: { dim } } } };
}

/** Builds the ModelProto for `outputs` (graph output name -> tensor), keeping only the nodes they need. */
export function toModelProto(g: Graph, outputs: Record<string, Tensor>, opts: ModelOptions = {}): { model: onnxProto.onnx.ModelProto; nodeCount: number; ops: Record<string, number> } {
  const entries = Object.entries(outputs);
  if (entries.length === 0) throw new Error('a model needs at least one output');
  const inputNames = new Set(g.inputs.map((t) => t.name));
  const initNames = new Set(g.initializers.map((i) => i.tensor.name));
  // A node-made tensor takes its (first) output name directly; inputs, initializers and repeats go through Identity.
  const rename = new Map<string, string>();
  const viaIdentity: [string, Tensor][] = [];
  for (const [name, t] of entries) {
    if (inputNames.has(name) || initNames.has(name)) throw new Error(`output name '${name}' is also an input or initializer name`);
    if (t.graph !== g) throw new Error(`output ${name} belongs to another graph`);
    if (t.kind === 'node' && !rename.has(t.name)) rename.set(t.name, name);
    else viaIdentity.push([name, t]);
  }
  const nm = (t: Tensor | null) => (t ? (rename.get(t.name) ?? t.name) : '');
  const extra: onnxProto.onnx.INodeProto[] = viaIdentity.map(([name, t]) => ({ opType: 'Identity', name: `out_${name}`, input: [nm(t)], output: [name] }));
  // Dead-node removal: walk back from the outputs.
  const live = new Set<string>(entries.map(([, t]) => t.name));
  const keep: GraphNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => live.has(o.name))) continue;
    keep.push(n);
    for (const t of n.inputs) if (t) live.add(t.name);
  }
  keep.reverse();
  const node: onnxProto.onnx.INodeProto[] = keep.map((n) => ({
    opType: n.op,
    name: n.name,
    domain: n.domain ?? '',
    input: n.inputs.map(nm),
    output: n.outputs.map((o) => nm(o)),
    attribute: Object.entries(n.attrs).map(([k, v]) => encodeAttr(k, v)),
  }));
  node.push(...extra);
  const ops: Record<string, number> = {};
  for (const n of node) ops[n.opType!] = (ops[n.opType!] ?? 0) + 1;
  const inputs = opts.pruneInputs ? g.inputs.filter((t) => live.has(t.name)) : g.inputs;
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }, ...[...new Set(keep.map((n) => n.domain).filter(Boolean))].map((domain) => ({ domain, version: 1 }))],
    producerName: opts.producerName ?? 'dinotrain',
    docString: opts.docString ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node,
      input: inputs.map((t) => valueInfo(t.name, t)),
      initializer: g.initializers.filter((i) => live.has(i.tensor.name)).map((i) => tensorProto(i.tensor.name, i.data)),
      output: entries.map(([name, t]) => valueInfo(name, t)),
    },
  });
  const sorted = Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1]));
  return { model, nodeCount: node.length, ops: sorted };
}

export function toBytes(g: Graph, outputs: Record<string, Tensor>, opts: ModelOptions = {}): BuiltModel {
  const { model, nodeCount, ops } = toModelProto(g, outputs, opts);
  return { bytes: onnx.ModelProto.encode(model).finish(), nodeCount, ops };
}

/** Reads a serialised model's metadata_props, doc string and input/output names (no ORT needed). */
export function readModelInfo(bytes: Uint8Array): {
  metadata: Record<string, string>;
  docString: string;
  opset: number;
  inputs: string[];
  outputs: string[];
  initializers: string[];
} {
  const m = onnx.ModelProto.decode(bytes);
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps) if (p.key) metadata[p.key] = p.value ?? '';
  return {
    metadata,
    docString: m.docString ?? '',
    opset: Number(m.opsetImport.find((o) => !o.domain)?.version ?? 0),
    inputs: (m.graph?.input ?? []).map((v) => v.name ?? ''),
    outputs: (m.graph?.output ?? []).map((v) => v.name ?? ''),
    initializers: (m.graph?.initializer ?? []).map((t) => t.name ?? ''),
  };
}
