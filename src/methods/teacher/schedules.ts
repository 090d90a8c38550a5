// The teacher's schedules, as DINO's reference code has them with epochs replaced by optimizer steps: the EMA
// momentum rises from momentum_start to momentum_end on a cosine, the teacher temperature warms up linearly from
// warmup_teacher_temp to teacher_temp over the first warmup_teacher_temp_fraction of the run.
import { cosineSchedule, linspaceAt } from '../../train/schedules.js';
import type { TeacherArgs } from './args.js';

/** Teacher EMA momentum: cosine from `start` to `end` (DINO: 0.996 -> 1). */
export function teacherMomentum(step: number, totalSteps: number, start: number, end = 1): number {
  return cosineSchedule(step, totalSteps, { base: start, final: end });
}

/** numpy.linspace(warmupTemp, temp, warmupSteps) then constant `temp` (DINO: 0.04 -> 0.07 over 30 epochs). */
export function teacherTemperature(step: number, warmupSteps: number, warmupTemp: number, temp: number): number {
  if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${step}`);
  return step < warmupSteps ? linspaceAt(step, warmupSteps, warmupTemp, temp) : temp;
}

/** Per step: `momentum` and `teacher_temp`, the names they are logged under. */
export function teacherSchedules(a: TeacherArgs, totalSteps: number): (step: number) => Record<string, number> {
  const warmup = Math.round(a.warmup_teacher_temp_fraction * totalSteps);
  return (step) => ({
    momentum: teacherMomentum(step, totalSteps, a.momentum_start, a.momentum_end),
    teacher_temp: teacherTemperature(step, warmup, a.warmup_teacher_temp, a.teacher_temp),
  });
}
