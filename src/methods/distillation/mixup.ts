// Mixup of a batch with itself: every image becomes λ·x_i + (1 − λ)·x_π(i), one λ ~ U(0, 1) for the step and π a
// random permutation of the batch. Teacher and student see the same mixed image, so the student learns the
// teacher's function on images between the data's, not only on the data ("Knowledge distillation: a good teacher
// is patient and consistent", Beyer et al. 2022). In a data-parallel job each process mixes within its own part.
import type { Rng } from '../../util/rng.js';

/** `n` views [n, ...] mixed into `out` (reused when it has the size). */
export function mixup(views: Float32Array, n: number, rng: Rng, out?: Float32Array): Float32Array {
  const per = views.length / n;
  const mixed = out && out.length === views.length ? out : new Float32Array(views.length);
  const lambda = rng.next();
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  for (let i = 0; i < n; i++) {
    const a = i * per;
    const b = perm[i] * per;
    for (let k = 0; k < per; k++) mixed[a + k] = lambda * views[a + k] + (1 - lambda) * views[b + k];
  }
  return mixed;
}
