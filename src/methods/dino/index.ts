// DINO (Caron et al. 2021): the method's definition — settings, preset, optimizer, schedules, export.
import { z } from 'zod';
import { modelOverrides } from '../../models/overrides.js';
import { getModel } from '../../models/registry.js';
import { UserError } from '../../util/errors.js';
import { defineMethod, type MethodDefinition } from '../definition.js';
import { resolveTeacherArgs, teacherArgsShape, type TeacherArgs } from '../teacher/args.js';
import { teacherSchedules } from '../teacher/schedules.js';
import { Dino } from './dino.js';
import { DINO_TRANSFORMS } from './transforms.js';

export const dinoArgs = z.object(teacherArgsShape(0.996)).strict();
export type DinoArgs = TeacherArgs;

export const dino: MethodDefinition = defineMethod<DinoArgs>({
  name: 'dino',
  description: 'DINO (Caron et al. 2021): a student matches an EMA teacher across multi-crop views',
  args: dinoArgs,
  defaultModel: 'vit-tiny/16',
  transforms: DINO_TRANSFORMS,
  optim: {
    name: 'adamw', lr: 0.0005, lr_scaling: 'linear', reference_batch_size: 256, min_lr: 1e-6, warmup_steps: -1,
    weight_decay: 0.04, weight_decay_end: 0.4, momentum: 0.9, betas: [0.9, 0.999], clip_grad: 3.0,
  },
  exportPart: 'teacher',
  parts: ['student', 'teacher'],
  model: (cfg) => getModel(cfg.model, modelOverrides(cfg.model_args)),
  check(cfg) {
    const { global, local } = cfg.transforms;
    if (global.count < 1 || global.count + local.count < 2) {
      throw new UserError(`DINO needs at least one global crop and two crops in all (got ${global.count} global, ${local.count} local)`);
    }
  },
  resolve: resolveTeacherArgs,
  schedules: teacherSchedules,
  create: (ctx) => new Dino(ctx, dino.model(ctx.cfg)),
});
