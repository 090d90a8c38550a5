// Every exported backbone.onnx is checked before it is handed over: ONNX Runtime runs the file on random images and
// the result is compared with the training-style graph of the same weights (parameters as graph inputs, fed the
// same values; BatchNorm in eval mode; ORT's graph optimisations off), so a wrong initializer, a broken rewrite
// (opset 17) or a fusion that changes the numbers shows up here and not in the user's deployment.
import { Session, toBytes, type Feed } from '../graph/index.js';
import type { BackboneModel } from '../models/registry.js';
import type { SerializedTensor } from '../models/weights.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { buildBackboneGraph, INPUT_NAME } from './backbone-graph.js';

/** Relative difference (max |a − b| / max |b|) above which an export is rejected. */
export const VERIFY_TOLERANCE = 1e-4;

/** The exported file computes something other than the training graph: exit 1 with the numbers. */
export class ExportVerificationError extends UserError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'ExportVerificationError';
  }
}

export interface VerifyOptions {
  imageSize: number;
  /** the batch the input has: the file's fixed batch, or any size for a dynamic one (default 2) */
  batch?: number;
  seed?: number;
  threads?: number;
  tolerance?: number;
}

export interface OutputDiff {
  name: string;
  dims: number[];
  maxAbsDiff: number;
  /** maxAbsDiff / max |reference| */
  relDiff: number;
}

export interface VerifyReport {
  batch: number;
  outputs: OutputDiff[];
  maxAbsDiff: number;
  relDiff: number;
}

function compare(name: string, got: { data: ArrayLike<number>; dims: number[] }, ref: { data: ArrayLike<number>; dims: number[] }): OutputDiff {
  if (got.dims.join() !== ref.dims.join()) {
    throw new ExportVerificationError(`export verification failed: output '${name}' has shape [${got.dims}], the training graph gives [${ref.dims}]`);
  }
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(got.data[i] - ref.data[i]);
    // NaN anywhere is a failure: make it the largest difference
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
  }
  return { name, dims: got.dims, maxAbsDiff: maxAbs, relDiff: maxAbs / Math.max(maxRef, 1e-30) };
}

export function randomImages(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

/**
 * Runs `onnx` (an exported backbone) and the reference graph on the same random images; throws an
 * ExportVerificationError when an output differs by more than `tolerance` relative, or the file does not load.
 */
export async function verifyBackboneOnnx(
  onnx: Uint8Array,
  model: BackboneModel,
  weights: ReadonlyMap<string, SerializedTensor>,
  o: VerifyOptions,
): Promise<VerifyReport> {
  const batch = o.batch ?? 2;
  const size = o.imageSize;
  const images: Feed = { data: randomImages(batch, size, o.seed ?? 0x5eed), dims: [batch, 3, size, size] };
  const threads = o.threads ?? 1;

  let exported: Session;
  try {
    exported = await Session.create(onnx, { intraOpNumThreads: threads, logSeverityLevel: 3 });
  } catch (e) {
    throw new ExportVerificationError(`export verification failed: ONNX Runtime cannot load the exported file: ${(e as Error).message.split('\n')[0]}`);
  }
  let got;
  try {
    got = await exported.run({ [INPUT_NAME]: images });
  } finally {
    await exported.release();
  }

  const { g, outputs } = buildBackboneGraph(model, { imageSize: size, batch: 'N', name: 'dinotrain_backbone_reference' });
  const feeds: Record<string, Feed> = { [INPUT_NAME]: images };
  for (const p of g.params) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`verification: no value for ${p.name}`);
    feeds[p.name] = { data: w.data, dims: p.shape };
  }
  const reference = await Session.create(toBytes(g, outputs).bytes, { intraOpNumThreads: threads, graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  let ref;
  try {
    ref = await reference.run(feeds);
  } finally {
    await reference.release();
  }

  const diffs: OutputDiff[] = [];
  for (const name of Object.keys(outputs)) {
    if (!got[name]) throw new ExportVerificationError(`export verification failed: the exported file has no output '${name}'`);
    diffs.push(compare(name, got[name] as never, ref[name] as never));
  }
  const report: VerifyReport = {
    batch,
    outputs: diffs,
    maxAbsDiff: Math.max(...diffs.map((d) => d.maxAbsDiff)),
    relDiff: Math.max(...diffs.map((d) => d.relDiff)),
  };
  const tol = o.tolerance ?? VERIFY_TOLERANCE;
  const bad = diffs.filter((d) => !(d.relDiff <= tol));
  if (bad.length > 0) {
    throw new ExportVerificationError(
      `export verification failed: the exported file differs from the training graph beyond ${tol} relative: ` +
        bad.map((d) => `${d.name} max abs diff ${d.maxAbsDiff.toExponential(2)} (relative ${d.relDiff.toExponential(2)})`).join(', '),
    );
  }
  return report;
}

/** One line for logs and the CLI. */
export function formatVerifyReport(r: VerifyReport): string {
  return (
    `verified against the training graph on ${r.batch} random image${r.batch === 1 ? '' : 's'}: ` +
    r.outputs.map((d) => `${d.name} max abs diff ${d.maxAbsDiff.toExponential(2)} (relative ${d.relDiff.toExponential(2)})`).join(', ')
  );
}
