// The queue of recent teacher embeddings that the global loss scores images against: the newest batch first, older
// rows shifted back, rows never filled left at zero. It owns its state; checkpoints hold it, so a resumed run scores
// against the same queue.
import type { SerializedTensor } from '../../models/weights.js';

export class TeacherQueue {
  readonly values: Float32Array;

  constructor(
    readonly name: string,
    readonly size: number,
    readonly dim: number,
  ) {
    this.values = new Float32Array(size * dim);
  }

  /** Puts `rows` ([n, dim], the whole batch of a job in sample order) at the front; a batch larger than the queue fills it with its first rows. */
  push(rows: Float32Array): void {
    const q = this.values;
    if (rows.length >= q.length) {
      q.set(rows.subarray(0, q.length));
      return;
    }
    q.copyWithin(rows.length, 0, q.length - rows.length);
    q.set(rows, 0);
  }

  /** The checkpoint entry, a view of the live values. */
  tensor(): [string, SerializedTensor] {
    return [this.name, { shape: [this.size, this.dim], data: this.values }];
  }
}
