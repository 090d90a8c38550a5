// Data-parallel training under a real mpiexec (MPICH): 2 ranks with half the batch each train as one process with the
// whole batch (DINO, DINOv2 with softmax and Sinkhorn-Knopp centering; SimCLR against a PyTorch computation with
// per-rank BatchNorm), a resumed 2-rank job continues bit for bit, a killed rank ends the job with the last checkpoint
// intact, and ranks that were given different settings refuse to start.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { maxRelDiff } from '../helpers/compare.js';
import { runCli } from '../helpers/run-cli.js';
import { writeDinotrainTeacher } from '../helpers/teacher-onnx.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'bin', 'dinotrain.js');
const tmp = mkdtempSync(join(tmpdir(), 'dt-distributed-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const mpiexec = spawnSync('sh', ['-c', 'command -v mpiexec.hydra || command -v mpiexec.mpich || command -v mpiexec'], { encoding: 'utf8' }).stdout.trim();
const skip = mpiexec ? false : 'no MPI launcher installed (Debian: apt-get install mpich)';

interface Job {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ReturnType<typeof spawn>>();
after(() => running.forEach((c) => c.kill('SIGKILL')));

/** `mpiexec -n N dinotrain ARGS` (or an MPMD command line when `argv` has ':' groups). */
function mpi(n: number, args: string[], groups?: string[][]): Promise<Job> {
  const argv = groups ? groups.flatMap((g, i) => [...(i ? [':'] : []), '-n', '1', process.execPath, cli, ...g]) : ['-n', String(n), process.execPath, cli, ...args];
  return new Promise((resolve) => {
    const child = spawn(mpiexec, argv, { cwd: root, env: { ...process.env, DINOTRAIN_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

function config(name: string, base: string, change: Record<string, unknown>): string {
  const cfg = YAML.parse(readFileSync(join(root, base), 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(change)) cfg[k] = typeof v === 'object' && v && !Array.isArray(v) ? { ...(cfg[k] as object), ...v } : v;
  const path = join(tmp, `${name}.yaml`);
  writeFileSync(path, YAML.stringify(cfg));
  return path;
}

const args = (cfg: string, out: string, extra: string[] = []) => ['pretrain', '--config', cfg, '--data', 'examples/images', '--out', out, '--loggers', 'jsonl', ...extra];
const losses = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);

/** The largest relative difference between the checkpoints' tensors (student, teacher, centers) and optimizer states. */
async function checkpointDiff(a: string, b: string): Promise<number> {
  let worst = 0;
  for (const file of ['model.safetensors', 'optimizer.safetensors']) {
    const [x, y] = await Promise.all([a, b].map((o) => readSafetensors(join(o, 'checkpoints', 'last', file))));
    assert.deepEqual([...x.tensors.keys()].sort(), [...y.tensors.keys()].sort());
    for (const [k, t] of x.tensors) {
      if (t.dtype !== 'F32') continue;
      // BatchNorm running statistics are each rank's own (rank 0's are saved), as DDP keeps them
      if (/running_(mean|var)|num_batches/.test(k)) continue;
      const [p, q] = [t.data as Float32Array, y.tensors.get(k)!.data as Float32Array];
      if (/attn\.qkv\.bias$/.test(k)) {
        // the key bias (the middle third) has no true gradient: its updates are rounding noise scaled by AdamW
        const d = p.length / 3;
        const qv = (z: Float32Array) => Float32Array.of(...z.subarray(0, d), ...z.subarray(2 * d));
        worst = Math.max(worst, maxRelDiff(qv(p), qv(q)));
      } else worst = Math.max(worst, maxRelDiff(p, q));
    }
  }
  return worst;
}

// float32 sums taken in another order (two half-batch reductions and an all-reduce): a few ulps, grown over steps.
// The key part of attn.qkv.bias is left out: it has no true gradient (softmax ignores a shift of every key), so its
// gradient is rounding noise, which AdamW's m/√v scales up to full-size steps (2e-4 apart after 4 distillation steps).
const LOSS_TOL = 1e-5;
const PARAM_TOL = 1e-4;

const cases = [
  { name: 'DINO ViT', base: 'test/fixtures/tiny-dino.yaml', change: {} },
  { name: 'DINOv2 softmax centering', base: 'test/fixtures/dinov2/tiny-dinov2.yaml', change: { method_args: { koleo_loss_weight: 0 } } },
  { name: 'DINOv2 Sinkhorn-Knopp', base: 'test/fixtures/dinov2/tiny-dinov2.yaml', change: { method_args: { koleo_loss_weight: 0, centering: 'sinkhorn_knopp' } } },
  // a ViT student (no BatchNorm, whose statistics are each rank's own) without mixup (each rank mixes within its part);
  // the queue takes every rank's teacher embeddings, as one process's
  {
    name: 'Distillation ViT',
    base: 'test/fixtures/distillation/tiny-distillation.yaml',
    change: {
      model: 'vit-tiny/8', model_args: { embed_dim: 32, depth: 2, num_heads: 2 },
      method_args: { mixup: false, teacher: writeDinotrainTeacher(join(tmp, 'teacher.onnx')) },
    },
  },
];

for (const c of cases) {
  test(`${c.name}: 2 ranks x batch 2 train as 1 process x batch 4 (losses and every parameter over 4 steps)`, { skip }, async () => {
    const slug = c.name.replace(/\W+/g, '-');
    const cfg = config(slug, c.base, { ...c.change, steps: 4, checkpoint_every: 4 });
    const one = join(tmp, `${slug}-1`), two = join(tmp, `${slug}-2`);
    const [a, b] = await Promise.all([runCli(args(cfg, one)), mpi(2, args(cfg, two))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const la = losses(one), lb = losses(two);
    assert.equal(la.length, 4);
    la.forEach((l, i) => assert.ok(Math.abs(l - lb[i]) <= LOSS_TOL * Math.abs(l), `step ${i + 1}: ${l} vs ${lb[i]}`));
    const d = await checkpointDiff(one, two);
    assert.ok(d < PARAM_TOL, `parameters after 4 steps differ by ${d}`);
    const state = JSON.parse(readFileSync(join(two, 'checkpoints', 'last', 'state.json'), 'utf8'));
    assert.equal(state.processes, 2);
  });
}

test('SimCLR across 2 ranks: gathered negatives and per-rank BatchNorm give PyTorch\'s loss and gradients', { skip }, async () => {
  const worker = join(root, 'test', 'distributed', 'fixtures', 'simclr-rank.ts');
  const r = spawnSync(mpiexec, ['-n', '2', process.execPath, '--import', 'tsx', worker], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { loss: number; reference: number; grads: number; errors: Record<string, number> };
  assert.ok(Math.abs(out.loss - out.reference) < 1e-5 * out.reference, `loss ${out.loss} vs ${out.reference}`);
  assert.equal(Object.keys(out.errors).length, out.grads, 'every gradient compared');
  for (const [k, e] of Object.entries(out.errors)) assert.ok(e < 2e-4, `${k}: ${e}`);
});

test('a 2-rank job resumed from its step-3 checkpoint continues bit for bit; one process resumes it too', { skip }, async () => {
  const cfg = config('resume', 'test/fixtures/tiny-dino.yaml', { steps: 6, checkpoint_every: 3 });
  const full = join(tmp, 'resume-full');
  assert.equal((await mpi(2, args(cfg, full))).code, 0);
  const resumed = join(tmp, 'resume-part');
  mkdirSync(join(resumed, 'checkpoints'), { recursive: true });
  cpSync(join(full, 'checkpoints', 'step-3'), join(resumed, 'checkpoints', 'last'), { recursive: true });
  const r = await mpi(2, args(cfg, resumed, ['--resume']));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(losses(resumed), losses(full).slice(3));
  assert.equal(await checkpointDiff(full, resumed), 0);

  const single = join(tmp, 'resume-single');
  mkdirSync(join(single, 'checkpoints'), { recursive: true });
  cpSync(join(full, 'checkpoints', 'step-3'), join(single, 'checkpoints', 'last'), { recursive: true });
  const s = await runCli(args(cfg, single, ['--resume']));
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /written by a job of 2 process\(es\), this one has 1/);
  losses(single).forEach((l, i) => assert.ok(Math.abs(l - losses(full)[3 + i]) <= LOSS_TOL * l));
});

test('a rank killed mid-run ends the job within seconds; the last checkpoint is intact and resumes', { skip }, async () => {
  const cfg = config('killed', 'test/fixtures/tiny-dino.yaml', { steps: 100000, checkpoint_every: 2 });
  const out = join(tmp, 'killed');
  const job = mpi(2, args(cfg, out));
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(out, 'checkpoints', 'step-2')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const pids = spawnSync('pgrep', ['-f', '--', `--out ${out} `], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  const ranks = pids.filter((pid) => existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(process.execPath));
  assert.equal(ranks.length, 2, `rank processes: ${pids}`);
  const killedAt = Date.now();
  process.kill(ranks[ranks.length - 1], 'SIGKILL');
  const r = await job;
  assert.notEqual(r.code, 0);
  assert.ok(Date.now() - killedAt < 10_000, `the job ended ${Date.now() - killedAt} ms after the kill`);
  const resumed = await runCli(args(cfg, out, ['--resume', '--steps', String(JSON.parse(readFileSync(join(out, 'checkpoints', 'last', 'state.json'), 'utf8')).step + 1)]));
  assert.equal(resumed.code, 0, resumed.stderr);
});

test('ranks given different settings refuse to start, naming what differs; an error on one rank is one line with its rank', { skip }, async () => {
  const cfg = config('mismatch', 'test/fixtures/tiny-dino.yaml', { steps: 2 });
  const r = await mpi(2, [], [args(cfg, join(tmp, 'mm'), ['--seed', '1']), args(cfg, join(tmp, 'mm'), ['--seed', '2'])]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /dinotrain: rank 0 of 2: the config differs between processes/);
  assert.ok(!existsSync(join(tmp, 'mm')), 'nothing written');

  const used = join(tmp, 'used');
  mkdirSync(used);
  writeFileSync(join(used, 'notes.txt'), 'mine');
  const u = await mpi(2, args(cfg, used));
  assert.equal(u.code, 2);
  assert.match(u.stderr, /dinotrain: rank 0 of 2: out: .*used is not empty/);
  assert.equal(u.stderr.match(/dinotrain: rank/g)?.length, 1, u.stderr);
});

test('--processes 2 runs the same job through mpiexec from one command', { skip }, async () => {
  const cfg = config('processes', 'test/fixtures/tiny-dino.yaml', { steps: 3 });
  const viaFlag = join(tmp, 'processes-flag'), viaMpiexec = join(tmp, 'processes-mpiexec');
  const [a, b] = await Promise.all([runCli(args(cfg, viaFlag, ['--processes', '2'])), mpi(2, args(cfg, viaMpiexec))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(losses(viaFlag), losses(viaMpiexec));
});
