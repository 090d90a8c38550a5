// What every method does around its ORT sessions: feed a network's parameters and buffers as zero-copy views,
// receive gradients straight into the flat gradient buffer, pass BatchNorm batch statistics out of a train-mode
// graph, and hand the backbone's tensors to the export.
import * as ort from 'onnxruntime-node';
import type { FlatTensors } from '../engine/param-store.js';
import { floatTensor, tensorViews, type Feeds } from '../engine/session.js';
import type { Tensor } from '../graph/index.js';
import type { BnStat } from '../models/layers/batch-norm.js';
import type { BackboneModel } from '../models/registry.js';
import type { BackboneWeights } from '../models/weights.js';
import type { Network } from '../engine/network.js';

/** A network's parameters and buffers as feeds, limited to the inputs the session takes. */
export function networkFeeds(inputNames: readonly string[], net: Network): Feeds {
  const all: Feeds = tensorViews(net.params);
  for (const p of net.specs) if (!p.trainable) all[p.name] = floatTensor(net.buffers.get(p.name)!, p.shape);
  const out: Feeds = {};
  for (const n of inputNames) if (all[n]) out[n] = all[n];
  return out;
}

/** Pre-allocated `grad:<name>` outputs that are views into `grads`: ORT writes each gradient in place. */
export function gradientFetches(grads: FlatTensors, params: readonly { name: string }[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const p of params) {
    const i = grads.layout.indexOf(p.name);
    out[`grad:${p.name}`] = new ort.Tensor('float32', grads.views[i], [...grads.layout.shapes[i]]);
  }
  return out;
}

export type BnValues = { name: string; mean: Float32Array; var: Float32Array };

/** Graph outputs 'bn_mean<tag>:<layer>' / 'bn_var<tag>:<layer>' for a train-mode forward's BatchNorm statistics. */
export function bnOutputs(stats: readonly BnStat[], tag = ''): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const s of stats) {
    out[`bn_mean${tag}:${s.name}`] = s.mean;
    out[`bn_var${tag}:${s.name}`] = s.var;
  }
  return out;
}

/** The same names as fetches ORT allocates. */
export function bnFetches(stats: readonly BnStat[], tag = ''): Record<string, null> {
  const out: Record<string, null> = {};
  for (const s of stats) out[`bn_mean${tag}:${s.name}`] = out[`bn_var${tag}:${s.name}`] = null;
  return out;
}

export function readBnStats(outputs: ort.InferenceSession.OnnxValueMapType, stats: readonly BnStat[], tag = ''): BnValues[] {
  return stats.map((s) => ({
    name: s.name,
    mean: outputs[`bn_mean${tag}:${s.name}`].data as Float32Array,
    var: outputs[`bn_var${tag}:${s.name}`].data as Float32Array,
  }));
}

/** The backbone part of a network (timm/torchvision names; heads and the mask token left out). */
export function backboneWeights(model: BackboneModel, net: Network): BackboneWeights {
  const names = new Set(model.spec().map((p) => p.name).filter((n) => model.isExportKey(n)));
  return { model: model.name, tensors: net.tensors('', (n) => names.has(n)) };
}

/** Starts every given network's backbone from `tensors` (names and shapes checked by applyInitWeights). */
export function loadBackboneInto(nets: readonly Network[], tensors: ReadonlyMap<string, { data: ArrayLike<number> }>): void {
  for (const net of nets) for (const [name, t] of tensors) net.value(name).set(t.data);
}
