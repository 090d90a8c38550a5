// The inputs and outputs of an ONNX model with their shapes, read from the protobuf wire format without decoding
// the weights: ModelProto.graph's ValueInfoProto entries are walked and every initializer is skipped by its length
// (only its name is read, to drop the inputs that older exporters list for their initializers). A 350 MB teacher
// is read in milliseconds and its sizes are known before any ONNX Runtime session exists.
import { WireReader, WIRE_LEN, WIRE_VARINT } from './protobuf-wire.js';

/** A dimension: a number when the model fixes it, its symbolic name (or '?') otherwise. */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  /** undefined when the model gives no shape */
  shape?: OnnxDim[];
}

export interface OnnxIo {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_NAME = 8;
const VALUE_NAME = 1;
const VALUE_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_TYPE_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;

const utf8 = new TextDecoder('utf-8');

/** Fields `field` (length-delimited) of a message, in order. */
function* fields(msg: Uint8Array, field: number): Generator<Uint8Array> {
  const r = new WireReader(msg);
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === field && w === WIRE_LEN) yield r.bytes();
    else r.skip(w);
  }
}

const first = (msg: Uint8Array, field: number): Uint8Array | undefined => fields(msg, field).next().value ?? undefined;

function readDim(msg: Uint8Array): OnnxDim {
  const r = new WireReader(msg);
  let dim: OnnxDim = '?';
  while (!r.done()) {
    const [f, w] = r.tag();
    if (f === DIM_VALUE && w === WIRE_VARINT) dim = r.varint();
    else if (f === DIM_PARAM && w === WIRE_LEN) dim = utf8.decode(r.bytes()) || '?';
    else r.skip(w);
  }
  return dim;
}

function readValueInfo(msg: Uint8Array): OnnxValueInfo {
  const name = utf8.decode(first(msg, VALUE_NAME) ?? new Uint8Array());
  const type = first(msg, VALUE_TYPE);
  const tensor = type && first(type, TYPE_TENSOR);
  const shape = tensor && first(tensor, TENSOR_TYPE_SHAPE);
  return { name, shape: shape ? [...fields(shape, SHAPE_DIM)].map(readDim) : undefined };
}

/** The graph's inputs (initializers left out) and outputs. Throws a plain Error when the bytes are not an ONNX model. */
export function readOnnxIo(model: Uint8Array): OnnxIo {
  const graph = first(model, MODEL_GRAPH);
  if (!graph) throw new Error('no graph in the model');
  const initializers = new Set<string>();
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const r = new WireReader(graph);
  while (!r.done()) {
    const [f, w] = r.tag();
    if (w !== WIRE_LEN || ![GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT].includes(f)) {
      r.skip(w);
      continue;
    }
    const msg = r.bytes();
    if (f === GRAPH_INITIALIZER) initializers.add(utf8.decode(first(msg, TENSOR_NAME) ?? new Uint8Array()));
    else (f === GRAPH_INPUT ? inputs : outputs).push(readValueInfo(msg));
  }
  return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}
