// A center of the teacher's outputs (DINO's centering): a moving average of the batch mean of the teacher's logits,
// subtracted before its softmax so no prototype dominates. The center owns its state and its update, as dinov2's
// DINOLoss owns `center` and update_center. In a data-parallel job the batch mean is the mean over every rank's rows.
import type { Communicator } from '../../distributed/communicator.js';
import type { SerializedTensor } from '../../models/weights.js';

export class Center {
  readonly values: Float32Array;
  private readonly sums: Float64Array;

  constructor(
    /** the checkpoint name, e.g. 'dino.center' */
    readonly name: string,
    size: number,
    private readonly momentum: number,
    private readonly comm: Communicator,
  ) {
    this.values = new Float32Array(size);
    this.sums = new Float64Array(comm.size > 1 ? size + 1 : 0);
  }

  /**
   * center = m·center + (1 − m)·mean. `mean` is this rank's batch mean over `rows` rows; with several ranks the
   * means are weighted by their rows and averaged over the job. A step whose job has no rows leaves it unchanged.
   */
  update(mean: ArrayLike<number>, rows = 1): void {
    const c = this.values;
    const m = this.momentum;
    if (this.comm.size > 1) {
      const s = this.sums;
      for (let k = 0; k < c.length; k++) s[k] = mean[k] * rows;
      s[c.length] = rows;
      this.comm.allreduceSum(s);
      const total = s[c.length];
      if (total > 0) for (let k = 0; k < c.length; k++) c[k] = c[k] * m + (s[k] / total) * (1 - m);
      return;
    }
    if (rows > 0) for (let k = 0; k < c.length; k++) c[k] = c[k] * m + mean[k] * (1 - m);
  }

  /** The checkpoint entry: [1, K], a view of the live values. */
  tensor(): [string, SerializedTensor] {
    return [this.name, { shape: [1, this.values.length], data: this.values }];
  }
}
