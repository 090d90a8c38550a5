// Reads ModelProto.metadata_props straight from the protobuf wire format: the top-level fields are
// walked and every other field (the graph with its weights above all) is skipped by its length, so
// a large backbone.onnx is never decoded. (onnxruntime-node does not expose custom metadata.)
import { WireReader, WIRE_LEN } from './protobuf-wire.js';

const MODEL_METADATA_PROPS = 14; // ModelProto field number
const ENTRY_KEY = 1; // StringStringEntryProto
const ENTRY_VALUE = 2;

const utf8 = new TextDecoder('utf-8');

/** The model's metadata_props as a plain map. Throws (a plain Error) when the bytes are not protobuf. */
export function readModelMetadata(model: Uint8Array): Record<string, string> {
  const props: Record<string, string> = {};
  const r = new WireReader(model);
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === MODEL_METADATA_PROPS && wire === WIRE_LEN) {
      const entry = r.bytes();
      const e = new WireReader(entry);
      let key = '';
      let value = '';
      while (!e.done()) {
        const [f, w] = e.tag();
        if (f === ENTRY_KEY && w === WIRE_LEN) key = utf8.decode(e.bytes());
        else if (f === ENTRY_VALUE && w === WIRE_LEN) value = utf8.decode(e.bytes());
        else e.skip(w);
      }
      props[key] = value;
    } else {
      r.skip(wire);
    }
  }
  return props;
}
