// Row-major float matrices for embeddings and the few row operations eval needs.

export interface Matrix {
  /** Row-major [rows, cols]. */
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

export function matrix(data: Float32Array | Float64Array, cols: number): Matrix {
  if (cols <= 0 || data.length % cols !== 0) throw new Error(`matrix: ${data.length} values do not split into rows of ${cols}`);
  return { data, rows: data.length / cols, cols };
}

/** A copy with every row scaled to unit L2 norm (zero rows stay zero), like F.normalize(eps=1e-12); norms in float64. */
export function l2NormalizeRows(m: Matrix, precision: 'float64'): Matrix & { data: Float64Array };
export function l2NormalizeRows(m: Matrix, precision: 'float32'): Matrix & { data: Float32Array };
export function l2NormalizeRows(m: Matrix, precision: 'float32' | 'float64'): Matrix {
  const out = precision === 'float32' ? new Float32Array(m.rows * m.cols) : new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) {
    const o = i * m.cols;
    let ss = 0;
    for (let j = 0; j < m.cols; j++) ss += m.data[o + j] * m.data[o + j];
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let j = 0; j < m.cols; j++) out[o + j] = m.data[o + j] * inv;
  }
  return { data: out, rows: m.rows, cols: m.cols };
}

export function dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[ao + j] * b[bo + j];
  return s;
}
