// Exponential moving average of the student into the teacher (DINO / DINOv2 momentum teacher), one loop: a
// WebAssembly SIMD kernel in place where both buffers live in one SimdArena (a training run's), else the JS loop.
import { simdEnabled } from '../util/wasm-simd.js';
import { kernelsHolding } from './simd.js';

/** teacher = momentum * teacher + (1 - momentum) * student, element-wise over two equally laid-out flat buffers. */
export function emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number, simd = simdEnabled()): void {
  if (teacher.length !== student.length) {
    throw new Error(`EMA buffers differ in size: teacher ${teacher.length}, student ${student.length}`);
  }
  const a = 1 - momentum;
  const kernels = simd ? kernelsHolding(teacher, student) : null;
  if (kernels) kernels.ema(teacher.byteOffset, student.byteOffset, teacher.length, momentum, a);
  else for (let k = 0; k < teacher.length; k++) teacher[k] = momentum * teacher[k] + a * student[k];
}
