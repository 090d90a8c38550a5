// Limited-memory BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a backtracking line search that
// enforces the Armijo condition and keeps only curvature pairs with s·y > 0. Enough for smooth,
// convex objectives such as L2-regularised multinomial logistic regression.

/** f(x), writing ∇f(x) into grad. */
export type Objective = (x: Float64Array, grad: Float64Array) => number | Promise<number>;

export interface LbfgsOptions {
  maxIterations?: number;
  history?: number;
  /** Stop when the gradient's max-norm falls below this. */
  gradTolerance?: number;
  /** Stop when the relative decrease of f in one iteration falls below this. */
  relTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

function dotv(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export async function minimizeLbfgs(objective: Objective, x0: Float64Array, opts: LbfgsOptions = {}): Promise<LbfgsResult> {
  const maxIterations = opts.maxIterations ?? 500;
  const m = opts.history ?? 10;
  const gtol = opts.gradTolerance ?? 1e-7;
  const rtol = opts.relTolerance ?? 1e-12;
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let f = await objective(x, g);
  let evaluations = 1;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const dir = new Float64Array(n);
  const xNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  let iterations = 0;
  let converged = maxAbs(g) < gtol;

  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: dir = -H g.
    for (let i = 0; i < n; i++) dir[i] = -g[i];
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dotv(S[j], dir);
      const y = Y[j];
      for (let i = 0; i < n; i++) dir[i] -= alpha[j] * y[i];
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dotv(S[last], Y[last]) / dotv(Y[last], Y[last]);
      for (let i = 0; i < n; i++) dir[i] *= gamma;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j] * dotv(Y[j], dir);
      const s = S[j];
      for (let i = 0; i < n; i++) dir[i] += (alpha[j] - beta) * s[i];
    }
    let slope = dotv(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i];
      slope = dotv(g, dir);
    }
    // First step of a fresh history is scaled so it moves x by at most 1 in max-norm.
    let step = S.length === 0 ? Math.min(1, 1 / Math.max(maxAbs(g), 1e-12)) : 1;
    let fNew = Infinity;
    let accepted = false;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * dir[i];
      fNew = await objective(xNew, gNew);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    iterations++;
    if (!accepted) break; // no decrease possible at float64 precision: we are at the minimum
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
    }
    const sy = dotv(s, y);
    if (sy > 1e-12 * Math.sqrt(dotv(s, s) * dotv(y, y))) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const decrease = f - fNew;
    x = Float64Array.from(xNew);
    [g, gNew] = [gNew, g];
    f = fNew;
    converged = maxAbs(g) < gtol || decrease <= rtol * Math.max(Math.abs(f), 1);
  }
  return { x, f, iterations, evaluations, converged };
}
