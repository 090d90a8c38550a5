// Building a method in a test as a run builds it: the config resolved for a dataset size and run length, the
// method from its definition, its sessions on one CPU thread.
import type { PretrainConfig } from '../../src/config/schema.js';
import type { Communicator } from '../../src/distributed/communicator.js';
import { SingleProcessCommunicator } from '../../src/distributed/single-process.js';
import { methodNamed } from '../../src/methods/index.js';
import type { MethodContext, StepScalars, TrainingMethod } from '../../src/methods/method.js';
import { resolveConfig } from '../../src/train/setup.js';

export interface RunSizeOptions {
  /** images in the (imaginary) data folder */
  images?: number;
  totalSteps?: number;
  /** the job's processes (default: this one alone) */
  comm?: Communicator;
}

/** The context a run would give the method: `cfg` resolved for `images` images and `totalSteps` steps. */
export function methodContext(cfg: PretrainConfig, o: RunSizeOptions = {}): MethodContext {
  const images = o.images ?? 37;
  const shape = { images, batchSize: cfg.batch_size, totalSteps: o.totalSteps ?? cfg.steps ?? 100, batchesPerEpoch: Math.max(1, Math.floor(images / cfg.batch_size)) };
  return {
    cfg: resolveConfig(cfg, shape),
    session: { providers: ['cpu'], threads: 1 },
    comm: o.comm ?? new SingleProcessCommunicator(),
  };
}

/** The method of `cfg.method` as its definition builds it, not initialised (no sessions). */
export function createMethod<M extends TrainingMethod = TrainingMethod>(cfg: PretrainConfig, o: RunSizeOptions = {}): M {
  return methodNamed(cfg.method).create(methodContext(cfg, o)) as M;
}

/** createMethod, then init() unless `init` is false. */
export async function buildMethod<M extends TrainingMethod = TrainingMethod>(cfg: PretrainConfig, o: RunSizeOptions & { init?: boolean } = {}): Promise<M> {
  const m = createMethod<M>(cfg, o);
  if (o.init !== false) await m.init();
  return m;
}

/** Step scalars with the teacher schedules' names (momentum, teacher_temp). */
export function scalars(o: { step?: number; totalSteps?: number; lr?: number; weightDecay?: number; momentum?: number; teacherTemp?: number } = {}): StepScalars {
  return {
    step: o.step ?? 0,
    totalSteps: o.totalSteps ?? 10,
    lr: o.lr ?? 0,
    weightDecay: o.weightDecay ?? 0,
    method: { momentum: o.momentum ?? 0.99, teacher_temp: o.teacherTemp ?? 0.07 },
  };
}
