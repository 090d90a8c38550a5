// Training-step speed: dinotrain's step against a PyTorch reference of the same step, interleaved step by step in
// one run so both see the same machine load. Synthetic inputs on both sides (compute only); --e2e also times the
// CLI end to end on examples/images (data loading included). Results and method: docs/benchmarks.md.
//
//   node --import tsx bench/train.ts [--method dino|dinov2|simclr] [--steps 10] [--warmup 2] [--verbose]
//        [--threads N] [--batch 32] [--global-size 96] [--local-size 48] [--local-crops 6] [--out-dim 4096]
//        [--variant NAME=SRC_DIR[:ENV=V;...]]... [--torch-variant NAME:ENV=V;...]... [--no-torch-default]
//        [--python PATH|none] [--memory-steps 100] [--profile PREFIX] [--e2e [--e2e-rounds 2] [--e2e-steps 12] [--e2e-args '...']]
//
// Every engine is a child process driven over stdin/stdout JSON lines, one step at a time, in turn: while one steps
// the others wait on a read (no CPU). Engines: dinotrain from this tree's src/ ('current'); each --variant (another
// copy of src/, e.g. a snapshot from before a change, whose folder also holds test/helpers/cli.ts for --e2e, and/or
// env settings: BENCH_DEVICE=cuda (GPU; PyTorch reference stays on the CPU: --python none), DINOTRAIN_ORT_SPIN=1, DINOTRAIN_SIMD=0, BENCH_THREADS=1, BENCH_OUT_DIM=65536, DINOTRAIN_ORT_OPTIONS={...}); the PyTorch
// reference bench/torch_dino_step.py ('pytorch', PyTorch's defaults; --torch-variant adds more, e.g.
// OMP_WAIT_POLICY=PASSIVE). The Python that runs it: --python PATH, else $PYTHON, else python3 (when it has torch).
// The dinotrain step is the trainer's: forwardBackward, freeze, clip, optimizer, afterStep.
// Output: per-engine medians/minimums of step and phases, images/s, speed relative to each PyTorch engine, CPU time,
// peak RSS, the load average; RSS growth over long runs (--memory-steps); per-op profiles (--profile).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => a === `--${name}` && i + 1 < process.argv.length && out.push(process.argv[i + 1]));
  return out;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

interface StepConfig {
  method: string;
  batch: number;
  globalSize: number;
  localSize: number;
  localCrops: number;
  outDim: number;
  threads: number;
  model: string;
}

interface StepReply {
  ms: number;
  /** phase -> ms */
  phases: Record<string, number>;
  loss: number;
  /** CPU seconds / wall seconds during the step (2.0 = both threads busy, lower = waiting for the CPU) */
  cpuShare: number;
  rssMiB: number;
  maxRssMiB: number;
}

// ------------------------------------------------------------------------------------------------ worker side

async function worker(): Promise<void> {
  const src = resolve(arg('src', join(repo, 'src')));
  const cfgIn = JSON.parse(arg('config', '{}')) as StepConfig;
  const imp = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(join(src, rel)).href)) as T;
  const { resolvePretrainConfig } = await imp<typeof import('../src/config/load.js')>('config/load.ts');
  const { methodNamed } = await imp<typeof import('../src/methods/index.js')>('methods/index.ts');
  const { resolveConfig, optimOf, checkedModel } = await imp<typeof import('../src/train/setup.js')>('train/setup.ts');
  const { createOptimizer, Schedules } = await imp<typeof import('../src/train/hyperparams.js')>('train/hyperparams.ts');
  const { trainStep } = await imp<typeof import('../src/train/training.js')>('train/training.ts');
  const { SingleProcessCommunicator } = await imp<typeof import('../src/distributed/single-process.js')>('distributed/single-process.ts');
  const ort = await import('onnxruntime-node');

  // time every session.run, keyed by the order the sessions were created in (dino: 0 = student, 1 = teacher)
  const runMs = new Map<object, number>();
  const order: object[] = [];
  const proto = (ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => Promise<unknown> } }).prototype;
  const run = proto.run;
  proto.run = async function (this: object, ...a: unknown[]) {
    const t = performance.now();
    try {
      return await run.apply(this, a);
    } finally {
      if (!order.includes(this)) order.push(this);
      runMs.set(this, (runMs.get(this) ?? 0) + performance.now() - t);
    }
  };

  const { method, batch: B, globalSize: Sg, localSize: Sl, localCrops: L } = cfgIn;
  const fileCfg: Record<string, unknown> = {
    transforms: { global: { size: Sg, count: 2 }, local: { size: Sl, count: L } },
    ...(method === 'simclr' ? {} : { method_args: { output_dim: Number(process.env.BENCH_OUT_DIM ?? cfgIn.outDim) } }),
  };
  const given = resolvePretrainConfig(fileCfg, { method, data: 'bench', out: 'bench', batch_size: B, model: cfgIn.model, steps: 1000 });
  const definition = methodNamed(given.method);
  const model = checkedModel(given, definition);
  const cfg = resolveConfig(given, { images: 10_000, batchSize: B, totalSteps: 1000, batchesPerEpoch: 100 }, definition);
  const t0 = performance.now();
  // BENCH_DEVICE=cuda: the same step on ONNX Runtime's CUDA provider (docs/gpu.md), CPU as the fallback provider
  const providers = process.env.BENCH_DEVICE === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
  const comm = new SingleProcessCommunicator();
  const m = definition.create({ cfg, session: { providers, threads: Number(process.env.BENCH_THREADS ?? cfgIn.threads) }, comm });
  await m.init();
  const initMs = performance.now() - t0;
  const optim = optimOf(cfg);
  const training = {
    method: m,
    optimizer: createOptimizer(optim, m.params),
    schedules: new Schedules(optim, 1000, B, definition.schedules?.(cfg.method_args, 1000)),
    clipGrad: optim.clip_grad,
    comm,
  };

  // synthetic, normalised-image-like inputs (fixed per run)
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 4 - 2;
  const sizes = [Sg, Sg, ...Array<number>(L).fill(Sl)];
  const views = sizes.map((s) => Float32Array.from({ length: B * 3 * s * s }, rand));
  const batch: Record<string, unknown> = { epoch: 0, batch: 0, size: B, views, viewSizes: sizes, indices: new Uint32Array(B), waitMs: 0 };
  const maskOpts = definition.loader?.(cfg, model).masks;
  if (maskOpts) {
    // iBOT masks as the loader draws them (fixed for the run)
    const { batchMasks, DEFAULT_MASK_OPTIONS } = await imp<typeof import('../src/data/masks.js')>('data/masks.ts');
    const { Rng } = await imp<typeof import('../src/util/rng.js')>('util/rng.ts');
    const { patchSize, ...rest } = maskOpts;
    const side = Sg / patchSize;
    batch.masks = batchMasks(new Rng(1), 2 * B, side, side, { ...DEFAULT_MASK_OPTIONS, ...rest });
    batch.maskGrid = [side, side];
  }

  const send = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  send({ ready: true, initMs, params: m.params.size, threads: Number(process.env.BENCH_THREADS ?? cfgIn.threads), pid: process.pid });
  let step = 0;
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() !== 'step') break;
    runMs.clear();
    const cpu0 = process.cpuUsage();
    const a = performance.now();
    const r = await trainStep(training as never, batch as never, step);
    const e = performance.now();
    const cpu = process.cpuUsage(cpu0);
    step++;
    const phases: Record<string, number> = {};
    let inRuns = 0;
    order.forEach((sess, i) => {
      const t = runMs.get(sess) ?? 0;
      phases[`run${i}`] = t;
      inRuns += t;
    });
    phases.jsGlue = r.ms.forwardBackward - inRuns;
    phases.optim = r.ms.optimizer;
    phases.after = r.ms.afterStep;
    send({
      ms: e - a,
      phases,
      loss: r.loss,
      cpuShare: (cpu.user + cpu.system) / 1000 / (e - a),
      rssMiB: process.memoryUsage.rss() / 2 ** 20,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    } satisfies StepReply);
  }
  await m.release(); // flushes the ORT profile when DINOTRAIN_ORT_PROFILE is set
  send({ done: true });
}

// ------------------------------------------------------------------------------------------------ orchestrator

class Engine {
  readonly steps: StepReply[] = [];
  ready: Record<string, unknown> = {};
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly queued: string[] = [];
  stderr = '';

  constructor(
    readonly name: string,
    cmd: string,
    argv: string[],
    env: Record<string, string>,
  ) {
    this.child = spawn(cmd, argv, { cwd: repo, env: { ...process.env, ...env } });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (l) => {
      if (!l.startsWith('{')) return;
      const p = this.pending.shift();
      if (p) p(l);
      else this.queued.push(l);
    });
    this.child.on('exit', (code) => {
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: `${name} exited with ${code}: ${this.stderr}` }));
    });
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((res, rej) => {
      const take = (l: string) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        if (o.error) rej(new Error(String(o.error)));
        else res(o);
      };
      const q = this.queued.shift();
      if (q) take(q);
      else this.pending.push(take);
    });
  }

  async start(): Promise<void> {
    this.ready = await this.next();
  }

  async step(): Promise<StepReply> {
    const p = this.next();
    this.child.stdin.write('step\n');
    return (await p) as unknown as StepReply;
  }

  async quit(): Promise<void> {
    const p = this.next().catch(() => ({}));
    this.child.stdin.write('quit\n');
    this.child.stdin.end();
    await Promise.race([p, new Promise((r) => setTimeout(r, 30_000))]);
  }
}

const isTorch = (e: Engine) => e.ready.torch !== undefined;

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function pickPython(): string | null {
  const p = arg('python', '');
  if (p === 'none') return null;
  const candidates = p ? [p] : [process.env.PYTHON, 'python3'].filter((x): x is string => !!x);
  for (const c of candidates) if (spawnSync(c, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return c;
  return null;
}

function cpuModel(): string {
  return os.cpus()[0]?.model ?? 'unknown';
}

interface Tree {
  name: string;
  /** the folder holding src/ and test/helpers/cli.ts */
  root: string;
  env: Record<string, string>;
}

/** The CLI end to end (data loading included) on examples/images, per tree, alternating for --e2e-rounds rounds. */
async function endToEnd(c: StepConfig, trees: Tree[]): Promise<void> {
  const steps = Number(arg('e2e-steps', '12'));
  const rounds = Number(arg('e2e-rounds', '1'));
  const results = new Map<string, { ips: number[]; wait: number[]; rss: number[] }>(trees.map((t) => [t.name, { ips: [], wait: [], rss: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...trees].reverse() : trees) {
      const out = mkdtempSync(join(os.tmpdir(), 'dinotrain-bench-e2e-'));
      const argv = ['--import', 'tsx', join(t.root, 'test', 'helpers', 'cli.ts'), 'pretrain', '--data', join(repo, 'examples', 'images'),
        '--out', out, '--overwrite', '--method', c.method, '--model', c.model, '--steps', String(steps), '--batch-size', String(c.batch),
        '--global-size', String(c.globalSize), '--local-size', String(c.localSize), '--local-crops', String(c.localCrops),
        '--log-every', '1', '--loggers', 'jsonl', ...arg('e2e-args', '').split(' ').filter(Boolean)];
      if (c.method !== 'simclr') {
        writeFileSync(`${out}.json`, JSON.stringify({ method_args: { output_dim: c.outDim } }));
        argv.push('--config', `${out}.json`);
      }
      const run = spawnSync(process.execPath, argv, { cwd: t.root, encoding: 'utf8', env: { ...process.env, ...t.env } });
      if (run.status !== 0) {
        console.log(`e2e ${t.name}: CLI failed (${run.status}): ${run.stderr.slice(-800)}`);
      } else {
        const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
        const res = results.get(t.name)!;
        for (const row of rows.slice(2)) {
          // the first steps include session warm-up
          res.ips.push(row.images_per_s);
          res.wait.push(row.data_wait);
        }
        res.rss.push(Math.max(...rows.map((x) => x.rss_mb)));
      }
      rmSync(out, { recursive: true, force: true });
      rmSync(`${out}.json`, { force: true });
    }
  }
  for (const [name, r] of results) {
    console.log(
      `e2e CLI ${name} (${rounds} x ${steps} steps, batch ${c.batch}, examples/images): images/s median ${fmt(median(r.ips), 1)} ` +
        `(best ${fmt(Math.max(...r.ips), 1)}), data_wait median ${fmt(median(r.wait), 3)}, rss ${fmt(Math.max(...r.rss))} MiB`,
    );
  }
}

/** Runs the engines in turn, step by step, and prints the comparison table, load, memory growth and losses. */
async function compareSteps(c: StepConfig, engines: Engine[], o: { steps: number; warmup: number; memorySteps: number }): Promise<void> {
  const { steps, warmup, memorySteps } = o;
  for (const e of engines) await e.start(); // one at a time: start-up is CPU-heavy
  const load0 = os.loadavg();
  console.log(`machine: ${os.availableParallelism()} cores (${cpuModel()}), load average ${load0.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`config: ${JSON.stringify(c)}; ${warmup} warm-up + ${steps} timed steps per engine, interleaved`);
  for (const e of engines) console.log(`  ${e.name}: ${JSON.stringify(e.ready)}`);

  const loads: number[] = [];
  const total = Math.max(warmup + steps, memorySteps);
  for (let i = 0; i < total; i++) {
    // rotate who goes first, so no engine always follows the same neighbour
    for (let j = 0; j < engines.length; j++) {
      const e = engines[(i + j) % engines.length];
      if (i >= warmup + steps && isTorch(e)) continue;
      const r = await e.step();
      if (i >= warmup) e.steps.push(r);
    }
    loads.push(os.loadavg()[0]);
    if (flag('verbose')) {
      console.log(`step ${i}: ${engines.map((e) => `${e.name} ${fmt(e.steps.at(-1)?.ms ?? NaN)}`).join(', ')} load ${loads.at(-1)!.toFixed(1)}`);
    }
  }
  for (const e of engines) await e.quit();

  const B = c.batch;
  const rows: string[] = [];
  const torch = engines.filter(isTorch).map((e) => {
    const ms = e.steps.slice(0, steps).map((s) => s.ms);
    return { name: e.name, med: median(ms), min: Math.min(...ms) };
  });
  rows.push(`| engine | step ms median | min | images/s median | best | speed vs ${torch.map((t) => t.name).join(' / ') || 'PyTorch'} (median, best) | CPU s/step | CPU share | peak RSS MiB | phases (median ms) |`);
  rows.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const e of engines) {
    const st = e.steps.slice(0, steps);
    const ms = st.map((s) => s.ms);
    const med = median(ms), min = Math.min(...ms);
    const phases = Object.keys(st[0]?.phases ?? {})
      .map((k) => `${k} ${fmt(median(st.map((s) => s.phases[k] ?? 0)))}`)
      .join(', ');
    const vs = isTorch(e) || !torch.length ? '-' : torch.map((t) => `${fmt(t.med / med, 2)}x, ${fmt(t.min / min, 2)}x`).join(' / ');
    rows.push(
      `| ${e.name} | ${fmt(med)} | ${fmt(min)} | ${fmt((B * 1000) / med, 1)} | ${fmt((B * 1000) / min, 1)} | ${vs} | ` +
        `${fmt(median(st.map((s) => (s.cpuShare * s.ms) / 1000)), 2)} | ${fmt(median(st.map((s) => s.cpuShare)), 2)} | ${fmt(Math.max(...e.steps.map((s) => s.maxRssMiB)))} | ${phases} |`,
    );
  }
  console.log(rows.join('\n'));
  console.log(`load average during the run: median ${fmt(median(loads), 1)}, max ${fmt(Math.max(...loads), 1)} (${os.availableParallelism()} cores)`);
  for (const e of engines) {
    if (isTorch(e)) continue;
    const rss = e.steps.map((s) => s.rssMiB);
    if (rss.length >= 20) {
      const early = median(rss.slice(5, 15)), late = median(rss.slice(-10));
      console.log(`${e.name}: RSS over ${rss.length} steps: steps 5-15 median ${fmt(early)} MiB, last 10 median ${fmt(late)} MiB (growth ${fmt(late - early)} MiB)`);
    }
    const losses = e.steps.slice(0, 3).map((s) => s.loss.toFixed(5));
    console.log(`${e.name}: first timed losses ${losses.join(' ')}`);
  }
}

/** ORT's per-node profile (chrome trace JSON, one file per session), summed per op type over the runs after the first. */
function printProfiles(prefix: string, engine: string): void {
  const dir = dirname(resolve(prefix));
  const stem = `${basename(prefix)}-${engine}`;
  for (const file of readdirSync(dir).filter((f) => f.startsWith(stem) && f.endsWith('.json'))) {
    type Event = { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } };
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Event[];
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    if (runs.length < 2) continue;
    const after = runs[0].ts + runs[0].dur;
    const byOp = new Map<string, number>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < after) continue;
      const op = e.args?.op_name ?? '?';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
      total += e.dur;
    }
    const n = runs.length - 1;
    const top = [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(`profile ${file}: ${n} runs, kernels ${fmt(total / 1000 / n)} ms/run: ` + top.map(([op, us]) => `${op} ${fmt((100 * us) / total, 1)}%`).join(', '));
  }
}

async function main(): Promise<void> {
  const method = arg('method', 'dino');
  const defaults: Record<string, Partial<StepConfig>> = {
    dino: { model: 'vit-tiny/16', globalSize: 96, localSize: 48, localCrops: 6, outDim: 4096 },
    dinov2: { model: 'vit-small/14', globalSize: 98, localSize: 42, localCrops: 8, outDim: 4096 },
    simclr: { model: 'resnet18', globalSize: 64, localSize: 64, localCrops: 0, outDim: 128 },
  };
  const d = defaults[method];
  const c: StepConfig = {
    method,
    model: arg('model', d.model!),
    batch: Number(arg('batch', '32')),
    globalSize: Number(arg('global-size', String(d.globalSize))),
    localSize: Number(arg('local-size', String(d.localSize))),
    localCrops: Number(arg('local-crops', String(d.localCrops))),
    outDim: Number(arg('out-dim', String(d.outDim))),
    threads: Number(arg('threads', String(os.availableParallelism()))),
  };
  const steps = Number(arg('steps', '10'));
  const warmup = Number(arg('warmup', '2'));
  const memorySteps = Number(arg('memory-steps', '0'));
  const profile = arg('profile', '');

  const engines: Engine[] = [];
  const workerArgs = (src: string) => ['--import', 'tsx', join(here, 'train.ts'), '--worker', '--src', src, '--config', JSON.stringify(c)];
  const variants = args('variant');
  if (!variants.some((v) => v.startsWith('current='))) variants.unshift(`current=${join(repo, 'src')}`);
  const trees: Tree[] = [];
  for (const v of variants) {
    const [name, rest] = v.split(/=(.*)/s);
    const [src, envList] = rest.split(/:(.*)/s);
    const env: Record<string, string> = {};
    for (const kv of (envList ?? '').split(';').filter(Boolean)) {
      const [k, val] = kv.split(/=(.*)/s);
      env[k] = val;
    }
    trees.push({ name, root: dirname(resolve(src || join(repo, 'src'))), env: { ...env } });
    if (profile) env.DINOTRAIN_ORT_PROFILE = `${profile}-${name}`;
    if (steps > 0) engines.push(new Engine(name, process.execPath, workerArgs(resolve(src || join(repo, 'src'))), env));
  }
  const python = steps > 0 ? pickPython() : null;
  if (python) {
    const py = ['bench/torch_dino_step.py', '--serve', '--method', method, '--model', c.model, '--batch', String(c.batch), '--global-size', String(c.globalSize),
      '--local-size', String(c.localSize), '--local-crops', String(c.localCrops), '--out-dim', String(c.outDim), '--threads', String(c.threads)];
    if (!flag('no-torch-default')) engines.push(new Engine('pytorch', python, py, {}));
    // --torch-variant name:K=V;...: the same reference under other env settings (e.g. OMP_WAIT_POLICY=PASSIVE)
    for (const tv of args('torch-variant')) {
      const [name, envList] = tv.split(/:(.*)/s);
      const env = Object.fromEntries((envList ?? '').split(';').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
      engines.push(new Engine(name, python, py, env));
    }
  }
  if (engines.length) await compareSteps(c, engines, { steps, warmup, memorySteps });
  if (profile) for (const t of trees) printProfiles(profile, t.name);
  if (flag('e2e')) await endToEnd(c, trees);
}

if (flag('worker')) await worker();
else await main();
