// Does pretraining learn good features? kNN accuracy (k=20, cosine, T=0.07 weighted votes, as DINO's eval_knn) on
// Fashion-MNIST for each run's checkpoints, against the same backbone at random init (step 0) and raw pixels.
//
//   node --import tsx bench/quality.ts data   [--out bench/out/fashion-mnist] [--count 10000] [--size 32]
//   node --import tsx bench/quality.ts train  --name NAME --config FILE --steps N --every N [--timeout-min 20] [-- extra flags]
//   node --import tsx bench/quality.ts eval   --runs NAME[,NAME...] [--every M (checkpoints at multiples of M)] [--data DIR]
//   node --import tsx bench/quality.ts report [--runs A,B] [--x steps|cpu] [--reference RUN] [--marker M] [--png FILE]
//        (the table between <!-- quality-M:start/end --> in docs/quality.md, M 'table' by default, and the plot)
//
// Runs live in bench/out/q-<NAME>; results accumulate in bench/out/quality-results.json.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { openBackbone } from '../src/embed/backbone.js';
import { evaluateEmbeddings } from '../src/eval/evaluate-embeddings.js';
import { checkpointBackbone, randomInitBackbone, type CheckpointBackbone, type RunConfig } from './quality/checkpoint-backbone.js';
import { loadEvalImages, type EvalImages } from './quality/eval-images.js';
import { FASHION_MNIST_DIR, prepareFashionMnist, readIdxImages, readIdxLabels } from './quality/fashion-mnist.js';
import { timedPretrain, type RunTiming } from './quality/train.js';
import { writeReport } from './quality/report.js';

const OUT = 'bench/out';
const RESULTS = join(OUT, 'quality-results.json');

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

export interface EvalPoint {
  step: number;
  knnTop1: number;
  knnTop5?: number;
  wallMin?: number;
  cpuMin?: number;
  /** training loss logged nearest to (at or before) this step */
  loss?: number;
  /** ||w - w_init|| / ||w_init|| of the evaluated backbone weights */
  drift: number;
  evalS: number;
}

export interface RunResult {
  name: string;
  method: string;
  model: string;
  modelArgs: Record<string, unknown>;
  batchSize: number;
  steps: number;
  command: string;
  timing?: RunTiming;
  points: EvalPoint[];
}

export interface Results {
  machine: { cpus: string; cores: number; node: string; date: string };
  knnTrain: number;
  knnTest: number;
  rawPixels?: { top1: number; top5?: number };
  runs: Record<string, RunResult>;
}

function loadResults(): Results {
  if (existsSync(RESULTS)) return JSON.parse(readFileSync(RESULTS, 'utf8')) as Results;
  return {
    machine: { cpus: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, date: new Date().toISOString() },
    knnTrain: 0,
    knnTest: 0,
    runs: {},
  };
}

const saveResults = (r: Results) => writeFileSync(RESULTS, JSON.stringify(r, null, 2) + '\n');

/** kNN on the 28 px pixel intensities themselves (784 dims), straight from the idx files. */
async function rawPixelKnn(count: number): Promise<{ top1: number; top5?: number }> {
  const tr = readIdxImages(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  const te = readIdxImages(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
  const d = tr.rows * tr.cols;
  const trL = readIdxLabels(join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz')).subarray(0, count);
  const teL = readIdxLabels(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')).subarray(0, count);
  const r = await evaluateEmbeddings(
    { data: Float32Array.from(tr.pixels.subarray(0, count * d)), dim: d },
    trL,
    { data: Float32Array.from(te.pixels.subarray(0, count * d)), dim: d },
    teL,
    { k: 20, T: 0.07, linear: false, numClasses: 10 },
  );
  return { top1: r.knnTop1, top5: r.knnTop5 };
}

async function embedAll(onnx: Uint8Array, set: EvalImages): Promise<Float32Array> {
  const backbone = await openBackbone(onnx, { device: 'cpu' });
  try {
    const pixels = 3 * set.size * set.size;
    const batch = 500;
    let out: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < set.count; start += batch) {
      const n = Math.min(batch, set.count - start);
      const r = await backbone.embed(set.images.subarray(start * pixels, (start + n) * pixels), n);
      if (!out) {
        dim = r.dim;
        out = new Float32Array(set.count * dim);
      }
      out.set(r.data, start * dim);
    }
    return out!;
  } finally {
    await backbone.release();
  }
}

function lossAt(runDir: string, step: number): number | undefined {
  const path = join(runDir, 'metrics.jsonl');
  if (!existsSync(path)) return undefined;
  let best: number | undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const m = JSON.parse(line) as { step?: number; loss?: number };
    if (m.step !== undefined && m.loss !== undefined && m.step <= step) best = m.loss;
  }
  return best;
}

async function evalRuns(names: string[], dataDir: string, every: number): Promise<void> {
  const results = loadResults();
  const cache = new Map<string, { train: EvalImages; test: EvalImages }>();
  for (const name of names) {
    const runDir = join(OUT, `q-${name}`);
    const cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as RunConfig & { batch_size: number; steps?: number };
    const timingPath = join(runDir, 'timing.json');
    const timing = existsSync(timingPath) ? (JSON.parse(readFileSync(timingPath, 'utf8')) as RunTiming) : undefined;
    const { size } = cfg.transforms.global;
    const { mean, std } = cfg.transforms.normalize;
    const key = JSON.stringify([size, mean, std]);
    if (!cache.has(key)) {
      const t0 = performance.now();
      const train = await loadEvalImages(join(dataDir, 'knn-train'), size, mean, std);
      const test = await loadEvalImages(join(dataDir, 'knn-test'), size, mean, std, train.classes);
      cache.set(key, { train, test });
      console.error(`decoded ${train.count} + ${test.count} eval images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const { train, test } = cache.get(key)!;
    results.knnTrain = train.count;
    results.knnTest = test.count;
    const ckptRoot = join(runDir, 'checkpoints');
    const steps = readdirSync(ckptRoot)
      .map((d) => /^step-(\d+)$/.exec(d))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .filter((s) => s % every === 0)
      .sort((a, b) => a - b);
    const prev = results.runs[name];
    const points: EvalPoint[] = [];
    for (const step of [0, ...steps]) {
      const done = prev?.points.find((p) => p.step === step);
      // the same run (same timing record) keeps its evaluated points; a rerun in the same folder is evaluated again
      if (done && JSON.stringify(prev?.timing) === JSON.stringify(timing)) {
        points.push(done);
        continue;
      }
      const t0 = performance.now();
      const bb: CheckpointBackbone = step === 0 ? randomInitBackbone(cfg) : await checkpointBackbone(cfg, join(ckptRoot, `step-${step}`));
      const trE = await embedAll(bb.onnx, train);
      const teE = await embedAll(bb.onnx, test);
      const dim = trE.length / train.count;
      const r = await evaluateEmbeddings({ data: trE, dim }, train.labels, { data: teE, dim }, test.labels, { k: 20, T: 0.07, linear: false, numClasses: train.classes.length });
      const st = timing?.steps.find((s) => s.step === step);
      const p: EvalPoint = {
        step,
        knnTop1: r.knnTop1,
        knnTop5: r.knnTop5,
        wallMin: step === 0 ? 0 : st ? st.wallS / 60 : undefined,
        cpuMin: step === 0 ? 0 : st ? st.cpuS / 60 : undefined,
        loss: step === 0 ? undefined : lossAt(runDir, step),
        drift: bb.drift,
        evalS: (performance.now() - t0) / 1000,
      };
      points.push(p);
      console.error(`${name} step ${step}: kNN top-1 ${(100 * p.knnTop1).toFixed(2)}% top-5 ${(100 * (p.knnTop5 ?? 0)).toFixed(2)}% (loss ${p.loss?.toFixed(4)}, drift ${p.drift.toFixed(4)}, eval ${p.evalS.toFixed(1)} s)`);
    }
    results.runs[name] = {
      name,
      method: cfg.method,
      model: cfg.model,
      modelArgs: (cfg.model_args ?? {}) as Record<string, unknown>,
      batchSize: cfg.batch_size,
      steps: cfg.steps ?? steps[steps.length - 1],
      command: timing?.command ?? '',
      timing,
      points,
    };
    saveResults(results);
  }
  if (!results.rawPixels) {
    results.rawPixels = await rawPixelKnn(results.knnTest);
    console.error(`raw pixels: kNN top-1 ${(100 * results.rawPixels.top1).toFixed(2)}%`);
    saveResults(results);
  }
}

const cmd = process.argv[2];
if (cmd === 'data') {
  console.log(await prepareFashionMnist(arg('out', join(OUT, 'fashion-mnist')), Number(arg('count', '10000')), Number(arg('size', '32'))));
} else if (cmd === 'train') {
  const name = arg('name');
  const dd = process.argv.indexOf('--');
  const extra = dd >= 0 ? process.argv.slice(dd + 1) : [];
  const flags = ['-c', arg('config'), '--data', join(arg('data', join(OUT, 'fashion-mnist')), 'pretrain'), '--overwrite',
    '--steps', arg('steps'), '--checkpoint-every', arg('every'), '--log-every', '10', '--loggers', 'jsonl', ...extra];
  console.log(JSON.stringify(await timedPretrain(join(OUT, `q-${name}`), Number(arg('timeout-min', '20')), flags)));
} else if (cmd === 'eval') {
  await evalRuns(arg('runs').split(','), arg('data', join(OUT, 'fashion-mnist')), Number(arg('every', '1')));
} else if (cmd === 'report') {
  const runs = process.argv.includes('--runs') ? arg('runs').split(',') : undefined;
  const x = arg('x', 'steps') as 'steps' | 'cpu';
  const reference = process.argv.includes('--reference') ? arg('reference') : undefined;
  await writeReport(loadResults(), arg('png', 'docs/quality-knn.png'), { runs, x, reference, marker: arg('marker', 'table') });
} else {
  console.error('usage: bench/quality.ts data|train|eval|report (see the header of this file)');
  process.exitCode = 2;
}
