// Data-parallel speed on one machine: the same global batch trained by 1 process with every core as threads, and
// by N processes under mpiexec with cores / N threads each, alternating round by round so both see the same load.
// Each run is the trainer's step (trainStep: forward, backward, all-reduce, optimizer, after-step) on synthetic
// views; rank 0 reports step times, the all-reduce's share and the bytes each rank sends per step.
// Results and the projection for more ranks and machines: docs/benchmarks.md ("Data-parallel").
//
//   node --import tsx bench/distributed.ts [--method dino|dinov2|simclr] [--processes 2] [--steps 8] [--warmup 2]
//        [--rounds 2] [--batch 32] [--model M] [--global-size 96] [--local-size 48] [--local-crops 6] [--out-dim 4096]
//        [--env NAME=VALUE;...]     (extra environment for every run, e.g. DINOTRAIN_ORT_OPTIONS=...)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { resolvePretrainConfig } from '../src/config/load.js';
import type { Batch } from '../src/data/loader.js';
import { batchMasks, DEFAULT_MASK_OPTIONS } from '../src/data/masks.js';
import { createCommunicator } from '../src/distributed/launch.js';
import { methodNamed } from '../src/methods/index.js';
import { createOptimizer, Schedules } from '../src/train/hyperparams.js';
import { checkedModel, optimOf, resolveConfig } from '../src/train/setup.js';
import { trainStep } from '../src/train/training.js';
import { Rng } from '../src/util/rng.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};

const method = arg('method', 'dino');
const defaults: Record<string, { model: string; globalSize: number; localSize: number; localCrops: number }> = {
  dino: { model: 'vit-tiny/16', globalSize: 96, localSize: 48, localCrops: 6 },
  dinov2: { model: 'vit-small/14', globalSize: 98, localSize: 42, localCrops: 8 },
  simclr: { model: 'resnet18', globalSize: 64, localSize: 32, localCrops: 0 },
};
const d = defaults[method];
const c = {
  method,
  model: arg('model', d.model),
  batch: Number(arg('batch', '32')),
  globalSize: Number(arg('global-size', String(d.globalSize))),
  localSize: Number(arg('local-size', String(d.localSize))),
  localCrops: Number(arg('local-crops', String(d.localCrops))),
  outDim: Number(arg('out-dim', '4096')),
  steps: Number(arg('steps', '8')),
  warmup: Number(arg('warmup', '2')),
};

interface Report {
  processes: number;
  threads: number;
  stepMs: number[];
  allreduceMs: number[];
  bytesPerStep: number;
  parameters: number;
}

async function worker(threads: number): Promise<void> {
  const comm = createCommunicator();
  const given = resolvePretrainConfig(
    {
      transforms: { global: { size: c.globalSize, count: 2 }, local: { size: c.localSize, count: c.localCrops } },
      ...(method === 'simclr' ? {} : { method_args: { output_dim: c.outDim } }),
    },
    { method, data: 'bench', out: 'bench', batch_size: c.batch, model: c.model, steps: 1000, threads },
  );
  const definition = methodNamed(given.method);
  const model = checkedModel(given, definition);
  const cfg = resolveConfig(given, { images: 10_000, batchSize: c.batch, totalSteps: 1000, batchesPerEpoch: 100 }, definition);
  const m = definition.create({ cfg, session: { providers: ['cpu'], threads }, comm });
  await m.init();
  const optim = optimOf(cfg);
  const training = {
    method: m,
    optimizer: createOptimizer(optim, m.params),
    schedules: new Schedules(optim, 1000, c.batch, definition.schedules?.(cfg.method_args, 1000)),
    clipGrad: optim.clip_grad,
    comm,
  };
  // this rank's part of a synthetic global batch
  const n = c.batch / comm.size;
  const rng = new Rng(1 + comm.rank);
  const sizes = [c.globalSize, c.globalSize, ...Array<number>(c.localCrops).fill(c.localSize)];
  const batch: Batch = {
    epoch: 0, batch: 0, size: n, views: sizes.map((s) => Float32Array.from({ length: n * 3 * s * s }, () => rng.normal())),
    viewSizes: sizes, indices: new Uint32Array(n), waitMs: 0,
  };
  const masks = definition.loader?.(cfg, model).masks;
  if (masks) {
    const side = c.globalSize / masks.patchSize;
    batch.masks = batchMasks(rng, 2 * n, side, side, { ...DEFAULT_MASK_OPTIONS, ratio: masks.ratio ?? DEFAULT_MASK_OPTIONS.ratio });
    batch.maskGrid = [side, side];
  }
  const report: Report = { processes: comm.size, threads, stepMs: [], allreduceMs: [], bytesPerStep: comm.size > 1 ? m.grads.flat.byteLength : 0, parameters: m.params.size };
  for (let i = 0; i < c.warmup + c.steps; i++) {
    comm.barrier();
    const t0 = performance.now();
    const r = await trainStep(training, batch, i);
    comm.barrier();
    if (i >= c.warmup) {
      report.stepMs.push(performance.now() - t0);
      report.allreduceMs.push(r.ms.allreduce);
    }
  }
  await m.release();
  if (comm.rank === 0) process.stdout.write(`${JSON.stringify(report)}\n`);
  comm.finalize();
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function orchestrate(): void {
  const self = fileURLToPath(import.meta.url);
  const cores = os.availableParallelism();
  const n = Number(arg('processes', '2'));
  const rounds = Number(arg('rounds', '2'));
  const env = { ...process.env, ...Object.fromEntries(arg('env', '').split(';').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2))) };
  const pass = process.argv.slice(2);
  const runs = [
    { label: `1 process x ${cores} threads`, cmd: process.execPath, argv: ['--import', 'tsx', self, ...pass, '--worker', '--threads', String(cores)] },
    {
      label: `${n} processes x ${Math.max(1, Math.floor(cores / n))} thread(s)`,
      cmd: 'mpiexec',
      argv: ['-n', String(n), process.execPath, '--import', 'tsx', self, ...pass, '--worker', '--threads', String(Math.max(1, Math.floor(cores / n)))],
    },
  ];
  const results = new Map<string, Report[]>(runs.map((r) => [r.label, []]));
  console.log(`machine: ${cores} cores (${os.cpus()[0]?.model}), load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`config: ${JSON.stringify(c)}, ${rounds} rounds`);
  for (let round = 0; round < rounds; round++) {
    for (const r of round % 2 ? [...runs].reverse() : runs) {
      const p = spawnSync(r.cmd, r.argv, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
      if (p.status !== 0) throw new Error(`${r.label} failed: ${p.stderr.slice(-2000)}`);
      results.get(r.label)!.push(JSON.parse(p.stdout.trim().split('\n').at(-1)!) as Report);
    }
  }
  const base = median(results.get(runs[0].label)!.flatMap((x) => x.stepMs));
  for (const [label, reports] of results) {
    const step = median(reports.flatMap((x) => x.stepMs));
    const reduce = median(reports.flatMap((x) => x.allreduceMs));
    const bytes = reports[0].bytesPerStep;
    console.log(
      `${label}: step ${step.toFixed(0)} ms, ${((c.batch * 1000) / step).toFixed(1)} images/s (${(base / step).toFixed(2)}x)` +
        (bytes ? `, all-reduce ${reduce.toFixed(1)} ms (${((100 * reduce) / step).toFixed(1)} % of the step), ${(bytes / 2 ** 20).toFixed(1)} MiB of gradients per rank per step` : '') +
        `; ${reports[0].parameters.toLocaleString('en-US')} parameters`,
    );
  }
  console.log(`load after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

if (process.argv.includes('--worker')) await worker(Number(arg('threads', '1')));
else orchestrate();
