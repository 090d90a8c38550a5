// Exponential moving average of the student into the teacher (DINO / DINOv2 momentum teacher), one loop: a
// WebAssembly SIMD kernel over copies of both buffers (float32, ~3x faster than the JS loop even with the copies;
// see docs/benchmarks.md), or the JS loop where SIMD is unavailable or DINOTRAIN_SIMD=0.
import { type SimdKernels, simdKernels } from './simd.js';

let staged: { kernels: SimdKernels; t: Float32Array; s: Float32Array } | null = null;
let stagedFailed = false;

function stage(n: number) {
  if (staged && staged.t.length === n) return staged;
  if (stagedFailed) return null;
  const stride = Math.ceil(n / 4) * 4;
  const kernels = simdKernels(2 * 4 * stride);
  if (!kernels) {
    stagedFailed = true;
    return null;
  }
  staged = { kernels, t: new Float32Array(kernels.memory.buffer, 0, n), s: new Float32Array(kernels.memory.buffer, 4 * stride, n) };
  return staged;
}

/** teacher = momentum * teacher + (1 - momentum) * student, element-wise over two equally laid-out flat buffers. */
export function emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number, simd = process.env.DINOTRAIN_SIMD !== '0'): void {
  if (teacher.length !== student.length) {
    throw new Error(`EMA buffers differ in size: teacher ${teacher.length}, student ${student.length}`);
  }
  const a = 1 - momentum;
  const st = simd ? stage(teacher.length) : null;
  if (st) {
    st.t.set(teacher);
    st.s.set(student);
    st.kernels.ema(st.t.byteOffset, st.s.byteOffset, teacher.length, momentum, a);
    teacher.set(st.t);
    return;
  }
  for (let k = 0; k < teacher.length; k++) teacher[k] = momentum * teacher[k] + a * student[k];
}
