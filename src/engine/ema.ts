// Exponential moving average of the student into the teacher (DINO / DINOv2 momentum teacher), one loop.

/** teacher = momentum * teacher + (1 - momentum) * student, element-wise over two equally laid-out flat buffers. */
export function emaUpdate(teacher: Float32Array, student: Float32Array, momentum: number): void {
  if (teacher.length !== student.length) {
    throw new Error(`EMA buffers differ in size: teacher ${teacher.length}, student ${student.length}`);
  }
  const a = 1 - momentum;
  for (let k = 0; k < teacher.length; k++) teacher[k] = momentum * teacher[k] + a * student[k];
}
