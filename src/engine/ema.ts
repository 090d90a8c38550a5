// Exponential moving average of the student into the teacher (DINO / DINOv2 momentum teacher), one loop: a
// WebAssembly SIMD kernel in place where both buffers live in one SimdArena (a training run's), else over copies
// of both (float32, ~3x faster than the JS loop even with the copies; see docs/benchmarks.md), or the JS loop where
// SIMD is unavailable or DINOTRAIN_SIMD=0.
import { kernelsHolding, type SimdRegions, simdRegions } from './simd.js';

/** Staging areas for teacher and student, sized for the last buffer length seen (one per run in practice). */
let staged: SimdRegions | null = null;
let stagedFailed = false;

function stage(n: number): SimdRegions | null {
  if (staged && staged.regions[0].length === n) return staged;
  if (stagedFailed) return null;
  staged = simdRegions(n, 2, true);
  stagedFailed = staged === null;
  return staged;
}

/** teacher = momentum * teacher + (1 - momentum) * student, element-wise over two equally laid-out flat buffers. */
export function emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number, simd = process.env.DINOTRAIN_SIMD !== '0'): void {
  if (teacher.length !== student.length) {
    throw new Error(`EMA buffers differ in size: teacher ${teacher.length}, student ${student.length}`);
  }
  const a = 1 - momentum;
  const inPlace = simd ? kernelsHolding(teacher, student) : null;
  if (inPlace) {
    inPlace.ema(teacher.byteOffset, student.byteOffset, teacher.length, momentum, a);
    return;
  }
  const st = simd ? stage(teacher.length) : null;
  if (st) {
    const [t, s] = st.regions;
    t.set(teacher);
    s.set(student);
    st.kernels.ema(t.byteOffset, s.byteOffset, teacher.length, momentum, a);
    teacher.set(t);
    return;
  }
  for (let k = 0; k < teacher.length; k++) teacher[k] = momentum * teacher[k] + a * student[k];
}
