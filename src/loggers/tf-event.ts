// Builders for the TensorBoard Event protos we write (tensorboard/compat/proto/event.proto,
// summary.proto, tensor.proto, plugins/hparams/plugin_data.proto). Fields are emitted in
// field-number order, map entries sorted by key, so the bytes are protobuf's canonical encoding.
import { ProtoWriter } from './protobuf.js';
import { pngInfo } from './png-info.js';

const FILE_VERSION = 'brain.Event:2';
const SESSION_LOG_START = 1;
const DT_FLOAT = 1;
const DT_STRING = 7;

export type HParamValue = string | number | boolean;

function event(wallTime: number, step: number): ProtoWriter {
  const e = new ProtoWriter().double(1, wallTime);
  if (step !== 0) e.varint(2, step);
  return e;
}

function summaryEvent(wallTime: number, step: number, values: ProtoWriter[]): Uint8Array {
  const summary = new ProtoWriter();
  for (const v of values) summary.message(1, v);
  return event(wallTime, step).message(5, summary).finish();
}

function pluginMetadata(pluginName: string, content?: Uint8Array): ProtoWriter {
  const pluginData = new ProtoWriter().string(1, pluginName);
  if (content && content.length > 0) pluginData.bytes(2, content);
  return new ProtoWriter().message(1, pluginData);
}

export function fileVersionEvent(wallTime: number): Uint8Array {
  return event(wallTime, 0).string(3, FILE_VERSION).finish();
}

/** SessionLog START: TensorBoard drops earlier events with step >= this step (a restart after a crash). */
export function sessionStartEvent(wallTime: number, step: number): Uint8Array {
  return event(wallTime, step).message(7, new ProtoWriter().varint(1, SESSION_LOG_START)).finish();
}

export function scalarsEvent(wallTime: number, step: number, values: Record<string, number>): Uint8Array {
  const entries = Object.entries(values).map(([tag, value]) => new ProtoWriter().string(1, tag).float(2, value));
  return summaryEvent(wallTime, step, entries);
}

/** A text summary as the text plugin expects: a rank-0 DT_STRING tensor, plugin "text" (markdown). */
export function textEvent(wallTime: number, step: number, tag: string, text: string): Uint8Array {
  const tensor = new ProtoWriter().varint(1, DT_STRING).message(2, new ProtoWriter()).string(8, text);
  const value = new ProtoWriter().string(1, tag).message(8, tensor).message(9, pluginMetadata('text'));
  return summaryEvent(wallTime, step, [value]);
}

/** A PNG as a Summary.Image (TensorBoard's images plugin reads these legacy summaries). */
export function imageEvent(wallTime: number, step: number, tag: string, png: Uint8Array): Uint8Array {
  const { width, height, channels } = pngInfo(png);
  const image = new ProtoWriter().varint(1, height).varint(2, width).varint(3, channels).bytes(4, png);
  return summaryEvent(wallTime, step, [new ProtoWriter().string(1, tag).message(4, image)]);
}

function protobufValue(value: HParamValue): ProtoWriter {
  // google.protobuf.Value: number_value = 2, string_value = 3, bool_value = 4 (a oneof: always written)
  if (typeof value === 'number') return new ProtoWriter().double(2, value);
  if (typeof value === 'boolean') return new ProtoWriter().varint(4, value);
  return new ProtoWriter().string(3, value);
}

/**
 * The hparams plugin's session_start_info (HParamsPluginData, tag "_hparams_/session_start_info")
 * carried by an empty float tensor, as tensorboard.plugins.hparams.summary_v2 writes it. Without an
 * "_hparams_/experiment" summary TensorBoard infers the columns from the sessions and scalar tags.
 */
export function hparamsEvent(
  wallTime: number,
  step: number,
  hparams: Record<string, HParamValue>,
  startTimeSecs: number,
): Uint8Array {
  const info = new ProtoWriter();
  for (const key of Object.keys(hparams).sort()) {
    info.message(1, new ProtoWriter().string(1, key).message(2, protobufValue(hparams[key]!)));
  }
  info.double(5, startTimeSecs);
  const pluginData = new ProtoWriter().message(3, info); // version 0 is the default: omitted
  const nullTensor = new ProtoWriter().varint(1, DT_FLOAT).message(2, new ProtoWriter().message(2, new ProtoWriter()));
  const value = new ProtoWriter()
    .string(1, '_hparams_/session_start_info')
    .message(8, nullTensor)
    .message(9, pluginMetadata('hparams', pluginData.finish()));
  return summaryEvent(wallTime, step, [value]);
}
