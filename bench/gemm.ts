// The GEMMs that dominate a ViT training step, ONNX Runtime (MLAS, in a one-node graph) against PyTorch (MKL) on
// the same shapes, at 1 and 2 threads, alternating engines for --rounds rounds so both see the same load. This is
// where dinotrain's ViT steps lose to PyTorch (docs/benchmarks.md, "Where the time goes").
//
//   node --import tsx bench/gemm.ts [--rounds 3] [--repeats 30] [--python PATH]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Graph, Session } from '../src/graph/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('rounds', '3')), repeats = Number(arg('repeats', '30'));
// the Python with torch: --python PATH, else $PYTHON, else python3
const python = arg('python', process.env.PYTHON ?? 'python3');

// name, M, K, N, transA, transB, bias (same list as gemm_torch.py)
const shapes: [string, number, number, number, boolean, boolean, boolean][] = [
  ['fc1 forward (bias)', 2368, 192, 768, false, true, true],
  ['fc1 forward', 2368, 192, 768, false, true, false],
  ['fc2 forward (bias)', 2368, 768, 192, false, true, true],
  ['fc1 input grad', 2368, 768, 192, false, false, false],
  ['fc1 weight grad', 768, 2368, 192, true, false, false],
];

async function ortRound(threads: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, M, K, N, tA, tB, bias] of shapes) {
    const g = new Graph();
    const a = g.input('a', tA ? [K, M] : [M, K]), b = g.input('b', tB ? [N, K] : [K, N]), c = bias ? g.input('c', [N]) : null;
    // a one-element output, so copying the result back to JS is not timed
    const y = g.slice(g.reshape(g.gemm(a, b, c, { transA: tA, transB: tB }), [-1]), [0], [1], [0]);
    const s = await Session.create(g.toBytes({ y }), { intraOpNumThreads: threads });
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      a: { data: new Float32Array(M * K).fill(0.01), dims: tA ? [K, M] : [M, K] },
      b: { data: new Float32Array(N * K).fill(0.02), dims: tB ? [N, K] : [K, N] },
    };
    if (bias) feeds.c = { data: new Float32Array(N).fill(1), dims: [N] };
    for (let i = 0; i < 3; i++) await s.run(feeds);
    const ts: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t = performance.now();
      await s.run(feeds);
      ts.push(performance.now() - t);
    }
    out[name] = ts.sort((p, q) => p - q)[ts.length >> 1];
    await s.release();
  }
  return out;
}

function torchRound(threads: number): Record<string, number> | null {
  const r = spawnSync(python, [join(here, 'gemm_torch.py'), String(threads), String(repeats)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: Record<string, number> }).ms;
}

const results = new Map<string, number[]>();
const add = (key: string, v: number) => results.set(key, [...(results.get(key) ?? []), v]);
let torchMissing = false;
for (let r = 0; r < rounds; r++) {
  for (const threads of [1, 2]) {
    for (const [k, v] of Object.entries(await ortRound(threads))) add(`ort|${threads}|${k}`, v);
    const t = torchRound(threads);
    if (!t) torchMissing = true;
    else for (const [k, v] of Object.entries(t)) add(`torch|${threads}|${k}`, v);
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const gflops = (name: string, ms: number) => {
  const [, M, K, N] = shapes.find((s) => s[0] === name)!;
  return (2 * M * K * N) / ms / 1e6;
};
console.log(`| GEMM (M x K x N) | threads | ONNX Runtime ms (GFLOP/s) | PyTorch ms (GFLOP/s) | ORT / PyTorch speed |`);
console.log('|---|---|---|---|---|');
for (const [name, M, K, N] of shapes) {
  for (const threads of [1, 2]) {
    const o = median(results.get(`ort|${threads}|${name}`)!);
    const t = results.get(`torch|${threads}|${name}`);
    const tm = t ? median(t) : NaN;
    const cell = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(2)} (${gflops(name, ms).toFixed(0)})` : '-');
    console.log(`| ${name} (${M} x ${K} x ${N}) | ${threads} | ${cell(o)} | ${cell(tm)} | ${Number.isFinite(tm) ? (tm / o).toFixed(2) + 'x' : '-'} |`);
  }
}
if (torchMissing) console.log(`(no PyTorch at ${python}: --python PATH)`);
