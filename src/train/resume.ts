// Continuing a run from its checkpoint. The checkpoint decides what may change: every saved tensor must go into a
// live tensor of the same name and shape (and every live tensor get a value), the optimizer must be the same kind,
// and the backbone must compute the same function (its graph, without weights, is compared). When that fails, each
// setting that differs from the checkpoint's config is tried alone on the saved config to name the ones that change
// the model. Other changed settings (more steps, loggers, log_every, the learning rate...) are allowed and listed.
import { createHash } from 'node:crypto';
import type { PretrainConfig } from '../config/schema.js';
import { isPlainObject } from '../config/merge.js';
import { SingleProcessCommunicator } from '../distributed/single-process.js';
import type { Optimizer } from '../engine/param-store.js';
import { buildBackboneGraph } from '../export/backbone-graph.js';
import { toModelProto } from '../graph/index.js';
import { methodNamed } from '../methods/index.js';
import type { TrainingMethod } from '../methods/method.js';
import { describeDifferences, hasDifferences, restoreState, stateDifferences } from '../methods/state.js';
import type { BackboneModel } from '../models/registry.js';
import { UserError } from '../util/errors.js';
import type { LoadedCheckpoint } from './checkpoint.js';
import { checkedModel, optimOf, resolveConfig, type RunShape } from './setup.js';

/** Settings that say where and how to start, not what is trained. */
const INVOCATION = new Set(['out', 'data', 'resume', 'overwrite']);

/** Each setting (a dotted path to a leaf) whose value differs, as [path, saved, now]. */
export function settingDifferences(saved: unknown, now: unknown, path = ''): [string, unknown, unknown][] {
  if (isPlainObject(saved) && isPlainObject(now)) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
    return keys.filter((k) => !(path === '' && INVOCATION.has(k))).flatMap((k) => settingDifferences(saved[k], now[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(saved) === JSON.stringify(now) ? [] : [[path, saved, now]];
}

const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
export const describeSetting = ([path, saved, now]: [string, unknown, unknown]) => `${path}: ${show(saved)} in the checkpoint, ${show(now)} now`;

function withSetting(cfg: unknown, path: string, value: unknown): PretrainConfig {
  const out = structuredClone(cfg) as Record<string, unknown>;
  const keys = path.split('.');
  let cur = out;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[keys[keys.length - 1]];
  else cur[keys[keys.length - 1]] = value;
  return out as PretrainConfig;
}

/** The backbone's function without its weights: a hash of its inference graph at the model's own input size. */
export function backboneFingerprint(model: BackboneModel): string {
  const { g, outputs } = buildBackboneGraph(model, { imageSize: model.defaultImageSize });
  const { model: proto } = toModelProto(g, outputs, {});
  return createHash('sha256').update(JSON.stringify(proto.graph)).digest('hex');
}

/** What a config trains, as far as a checkpoint is concerned. */
interface Layout {
  tensors: Map<string, { shape: readonly number[] }>;
  optimizer: string;
  backbone: string;
}

/** The layout a config gives, without building any session; a string when the config cannot be built at all. */
function layoutOf(cfg: PretrainConfig, run: RunShape): Layout | string {
  try {
    const method = methodNamed(cfg.method);
    const model = checkedModel(cfg, method);
    const resolved = resolveConfig(cfg, run, method);
    const m = method.create({ cfg: resolved, session: { providers: ['cpu'], threads: 1 }, comm: new SingleProcessCommunicator() });
    const tensors = new Map([...m.stateTensors()].map(([k, t]) => [k, { shape: t.shape }]));
    return { tensors, optimizer: optimOf(resolved).name, backbone: backboneFingerprint(model) };
  } catch (e) {
    return (e as Error).message;
  }
}

function sameLayout(a: Layout | string, b: Layout | string): boolean {
  if (typeof a === 'string' || typeof b === 'string') return false;
  return a.optimizer === b.optimizer && a.backbone === b.backbone && !hasDifferences(stateDifferences(a.tensors, b.tensors));
}

export interface ResumeReport {
  /** settings that differ from the checkpoint's and are allowed, as readable lines */
  changed: string[];
}

/**
 * Restores the method and the optimizer from `ck`, or throws a UserError (exit 2) naming the settings that would
 * change the model and both their values. `cfg` is this run's resolved config, `run` its size.
 */
export function resumeFrom(ck: LoadedCheckpoint, cfg: PretrainConfig, run: RunShape, method: TrainingMethod, optimizer: Optimizer): ResumeReport {
  const saved = ck.state.config as PretrainConfig;
  const differences = settingDifferences(saved, cfg);
  const fixed = new Set((methodNamed(cfg.method).fixedOnResume ?? []).map((k) => `method_args.${k}`));
  const changedFixed = saved.method === cfg.method ? differences.filter(([path]) => fixed.has(path)) : [];
  if (changedFixed.length > 0) {
    throw new UserError(
      `cannot resume from ${ck.dir}: ${changedFixed.map(describeSetting).join('; ')}; a run continues with what it started with. ` +
        'Resume with the checkpoint\'s files (see its state.json), or start a new run in another --out.',
    );
  }
  const live = method.stateTensors();
  const tensorDiff = stateDifferences(live, ck.tensors);
  const savedOptimizer = ck.optimizer.metadata.optimizer;
  const sameBackbone = (() => {
    try {
      return backboneFingerprint(checkedModel(saved)) === backboneFingerprint(method.model);
    } catch {
      return false;
    }
  })();
  if (hasDifferences(tensorDiff) || savedOptimizer !== optimizer.kind || !sameBackbone) {
    const reference = layoutOf(saved, run);
    const savedLayout: Layout = {
      tensors: new Map([...ck.tensors].map(([k, t]) => [k, { shape: t.shape }])),
      optimizer: savedOptimizer ?? 'unknown',
      backbone: typeof reference === 'string' ? '' : reference.backbone,
    };
    // when even the checkpoint's own settings build another model, the checkpoint comes from a dinotrain whose model
    // differs (e.g. without LayerScale): no setting of this run is to blame
    const ownSettingsFit = sameLayout(reference, savedLayout);
    const culprits = ownSettingsFit ? differences.filter(([path, , now]) => !sameLayout(layoutOf(withSetting(saved, path, now), run), savedLayout)) : [];
    const what = !ownSettingsFit && typeof reference !== 'string'
      ? `it was written by a dinotrain whose model differs from this one's, even with the checkpoint's own settings (${[
          hasDifferences(tensorDiff) ? describeDifferences(tensorDiff) : '',
          savedOptimizer !== optimizer.kind ? `optimizer ${savedOptimizer} in the checkpoint, ${optimizer.kind} now` : '',
        ].filter(Boolean).join('; ')}). Continue it with the dinotrain version that wrote it, or start a new run in another --out.`
      : culprits.length
      ? `these settings change the model, its heads or the method's state: ${culprits.map(describeSetting).join('; ')}`
      : `the model it holds is not the one this run builds (${[
          hasDifferences(tensorDiff) ? describeDifferences(tensorDiff) : '',
          savedOptimizer !== optimizer.kind ? `optimizer ${savedOptimizer} in the checkpoint, ${optimizer.kind} now` : '',
          !sameBackbone ? 'the backbone computes another function' : '',
          typeof ck.state.images === 'number' && ck.state.images !== run.images
            ? `the data folder has ${run.images} images, the checkpoint's run had ${ck.state.images}, which changes 'auto' settings`
            : '',
        ].filter(Boolean).join('; ')})`;
    const hint = ownSettingsFit || typeof reference === 'string' ? ". Resume with the checkpoint's settings (see its state.json), or start a new run in another --out." : '';
    throw new UserError(`cannot resume from ${ck.dir}: ${what}${hint}`);
  }
  restoreState(live, ck.tensors, `checkpoint ${ck.dir}`);
  optimizer.importState(ck.optimizer as never);
  return { changed: differences.map(describeSetting) };
}
