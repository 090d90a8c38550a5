// Methods by name: the one explicit map the trainer goes through.
import type { MethodName } from '../config/methods.js';
import { UserError } from '../util/errors.js';
import { Dino } from './dino.js';
import { Dinov2 } from './dinov2.js';
import type { MethodContext, TrainingMethod } from './method.js';
import { SimClr } from './simclr.js';

export type { MethodContext };

const methods: Partial<Record<MethodName, (ctx: MethodContext) => TrainingMethod & { init(): Promise<void> }>> = {
  dino: (ctx) => new Dino(ctx),
  dinov2: (ctx) => new Dinov2(ctx),
  simclr: (ctx) => new SimClr(ctx),
};

export async function createMethod(name: MethodName, ctx: MethodContext): Promise<TrainingMethod> {
  const make = methods[name];
  if (!make) {
    throw new UserError(`method '${name}' is not available in this version of dinotrain yet; available: ${Object.keys(methods).join(', ')}`);
  }
  const m = make(ctx);
  await m.init();
  return m;
}
