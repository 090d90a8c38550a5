// The MPI layer: launcher detection, the single-process communicator and chunking in process; real 2-rank jobs under
// mpiexec for the collectives and failures. Jobs are skipped (with the reason) where no MPI is installed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chunkElements, chunkRanges, INT_MAX } from '../../src/distributed/chunks.js';
import { createCommunicator, launchedByMpi } from '../../src/distributed/launch.js';
import { mpiexecCommand, runLocalJob, type MpiexecLookup } from '../../src/distributed/local-job.js';
import { MPI_LIBRARY_ENV, mpiLibraryInfo } from '../../src/distributed/mpi-library.js';
import { SingleProcessCommunicator } from '../../src/distributed/single-process.js';
import { UserError } from '../../src/util/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, 'fixtures', 'mpi-worker.ts');
const localJobParent = join(here, 'fixtures', 'local-job-parent.ts');
const tmp = mkdtempSync(join(tmpdir(), 'dinotrain-mpi-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('launchedByMpi', () => {
  test('hydra (MPICH, Intel MPI) sets PMI_* and MPI_LOCAL*', () => {
    const env = { PMI_RANK: '1', PMI_SIZE: '4', MPI_LOCALRANKID: '1', MPI_LOCALNRANKS: '2', PMI_FD: '6' };
    assert.deepEqual(launchedByMpi(env), { size: 4, rank: 1, localRank: 1, localSize: 2, launcher: 'hydra' });
  });

  test('Open MPI wins over PMI variables inherited from an outer launcher', () => {
    const env = {
      OMPI_COMM_WORLD_SIZE: '2',
      OMPI_COMM_WORLD_RANK: '0',
      OMPI_COMM_WORLD_LOCAL_RANK: '0',
      OMPI_COMM_WORLD_LOCAL_SIZE: '2',
      PMI_RANK: '5',
      PMI_SIZE: '8',
    };
    assert.deepEqual(launchedByMpi(env), { size: 2, rank: 0, localRank: 0, localSize: 2, launcher: 'open-mpi' });
  });

  test('srun: step variables; an sbatch script (SLURM_NTASKS, no step) is a single process', () => {
    const sbatch = { SLURM_JOB_ID: '7', SLURM_NTASKS: '8', SLURM_NPROCS: '8', SLURM_PROCID: '0', SLURM_LOCALID: '0' };
    assert.equal(launchedByMpi(sbatch), null);
    const srun = { ...sbatch, SLURM_STEP_ID: '0', SLURM_STEP_NUM_TASKS: '8', SLURM_PROCID: '3', SLURM_LOCALID: '1' };
    assert.deepEqual(launchedByMpi(srun), { size: 8, rank: 3, localRank: 1, launcher: 'srun' });
    assert.equal(launchedByMpi({ ...srun, PMIX_RANK: '5' })?.rank, 5);
  });

  test('PMIx alone: a rank without a size; nothing or garbage: not launched', () => {
    assert.deepEqual(launchedByMpi({ PMIX_RANK: '2' }), { size: null, rank: 2, launcher: 'pmix' });
    assert.equal(launchedByMpi({}), null);
    assert.equal(launchedByMpi({ PMI_RANK: 'x', PMI_SIZE: '2' }), null);
  });
});

describe('createCommunicator without MPI', () => {
  test('no launcher or a launcher of one process: the single-process communicator, no MPI loaded', () => {
    assert.ok(createCommunicator({}) instanceof SingleProcessCommunicator);
    assert.ok(createCommunicator({ PMI_RANK: '0', PMI_SIZE: '1' }) instanceof SingleProcessCommunicator);
  });

  test('a launcher of 2 processes and no loadable library: one-line UserError naming what was tried', () => {
    const missing = join(tmp, 'no-such-libmpi.so.12');
    const env = { PMI_RANK: '0', PMI_SIZE: '2', MPI_LOCALRANKID: '0', [MPI_LIBRARY_ENV]: missing };
    assert.throws(
      () => createCommunicator(env),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /^hydra started 2 processes but no MPI library could be loaded/);
        assert.ok(err.message.includes(missing) && err.message.includes(MPI_LIBRARY_ENV), err.message);
        assert.ok(!err.message.includes('\n'));
        return true;
      },
    );
    const info = mpiLibraryInfo({ [MPI_LIBRARY_ENV]: missing });
    assert.equal(info.found, false);
    assert.ok(info.error?.includes(missing));
  });
});

test('single-process communicator: identities', () => {
  const comm = new SingleProcessCommunicator();
  const buf = Float32Array.from([1, 2]);
  comm.allreduceSum(buf);
  comm.allreduceMax(buf);
  assert.deepEqual(Array.from(buf), [1, 2]);
  const recv = new Float32Array(2);
  comm.allgather(buf, recv);
  assert.deepEqual(Array.from(recv), [1, 2]);
  assert.throws(() => comm.allgather(buf, new Float32Array(3)), RangeError);
  assert.equal(comm.broadcastString('x'), 'x');
  assert.deepEqual(comm.allgatherStrings('y'), ['y']);
  assert.deepEqual([comm.rank, comm.size, comm.localRank, comm.localSize], [0, 1, 0, 1]);
});

test('chunking: ranges cover the array, pieces stay under the byte and int limits', () => {
  assert.deepEqual(chunkRanges(10, 4), [[0, 4], [4, 8], [8, 10]]);
  assert.deepEqual(chunkRanges(0, 4), []);
  assert.equal(chunkElements(16, 4), 4);
  assert.equal(chunkElements(2, 4), 1);
  assert.equal(chunkElements(2 ** 40, 1), INT_MAX);
  const ranges = chunkRanges(3 * 2 ** 30, chunkElements(2 ** 30, 4));
  assert.equal(ranges.length, 12);
  assert.equal(ranges.at(-1)![1], 3 * 2 ** 30);
});

describe('mpiexecCommand', () => {
  const lookup = (paths: Record<string, string>, flavors: Record<string, 'mpich' | 'openmpi'>): MpiexecLookup => ({
    which: (name) => paths[name] ?? null,
    flavorOf: (path) => flavors[path] ?? 'unknown',
  });
  const node = { execPath: '/node', execArgv: ['--import', 'tsx', '--inspect=9229'] };

  test('MPICH: plain -n N, node flags kept except the inspector', () => {
    const cmd = mpiexecCommand(4, ['cli.js', 'pretrain'], {
      ...node,
      abi: 'mpich',
      lookup: lookup({ mpiexec: '/usr/bin/mpiexec' }, { '/usr/bin/mpiexec': 'mpich' }),
    });
    assert.deepEqual(cmd, {
      file: '/usr/bin/mpiexec',
      args: ['-n', '4', '/node', '--import', 'tsx', 'cli.js', 'pretrain'],
      flavor: 'mpich',
    });
  });

  test('Open MPI: --oversubscribe, no core binding, root allowed when root; the default mpiexec of the other MPI is skipped', () => {
    const cmd = mpiexecCommand(2, ['cli.js'], {
      ...node,
      abi: 'openmpi',
      asRoot: true,
      lookup: lookup(
        { mpiexec: '/usr/bin/mpiexec', mpirun: '/usr/bin/mpirun', 'mpirun.openmpi': '/usr/bin/mpirun.openmpi' },
        { '/usr/bin/mpiexec': 'mpich', '/usr/bin/mpirun': 'mpich', '/usr/bin/mpirun.openmpi': 'openmpi' },
      ),
    });
    assert.equal(cmd.file, '/usr/bin/mpirun.openmpi');
    assert.deepEqual(cmd.args.slice(0, 7), ['-n', '2', '--oversubscribe', '--bind-to', 'none', '--allow-run-as-root', '/node']);
  });

  test('no launcher: a UserError', () => {
    assert.throws(() => mpiexecCommand(2, ['cli.js'], { lookup: lookup({}, {}) }), UserError);
  });
});

// ---- real jobs ----

const library = mpiLibraryInfo();
let launcher: ReturnType<typeof mpiexecCommand> | undefined;
try {
  launcher = mpiexecCommand(2, [], { abi: 'mpich', execArgv: [] });
} catch {
  // no MPICH launcher: the jobs below are skipped
}
const skipJobs =
  !launcher || !library.found || library.abi !== 'mpich'
    ? `needs MPICH's mpiexec and libmpich (apt install mpich); launcher: ${launcher?.file ?? 'none'}, library: ${library.found ? `${library.abi} ${library.path}` : library.error}`
    : false;
const openMpiLauncher = (() => {
  try {
    return mpiexecCommand(2, [], { abi: 'openmpi', execArgv: [] });
  } catch {
    return undefined;
  }
})();
const skipOpenMpi =
  openMpiLauncher?.flavor !== 'openmpi'
    ? 'Open MPI is not installed (mpirun.openmpi)'
    : process.env[MPI_LIBRARY_ENV]
      ? `${MPI_LIBRARY_ENV} chooses the library`
      : false;

interface JobResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr: hydra prints its termination banner on stdout. */
  output: string;
  ms: number;
}

/** Runs a launcher command line with a hard limit; the limit failing the test instead of hanging it. */
function runJob(file: string, args: string[], env: NodeJS.ProcessEnv, limitMs = 60_000): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, ms: Date.now() - started });
    });
  });
}

/** mpiexec's file and arguments for a 2-rank job of the worker fixture. */
function workerJob(...args: string[]): [string, string[]] {
  const { file, args: launcherArgs } = mpiexecCommand(2, [worker, ...args], { abi: 'mpich', execArgv: ['--import', 'tsx'] });
  return [file, launcherArgs];
}

function outputDir(name: string): string {
  return mkdtempSync(join(tmp, `${name}-`));
}

function rankResults(dir: string): Record<string, unknown>[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('rank-'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
}

function assertCollectives(results: Record<string, unknown>[], label: string): void {
  assert.equal(results.length, 2, `${label}: one result per rank`);
  const sum = Array.from({ length: 1000 }, (_, i) => i * 3);
  for (const [rank, r] of results.entries()) {
    assert.equal(r.rank, rank);
    assert.equal(r.size, 2);
    assert.equal(r.localSize, 2);
    assert.equal(r.localRank, rank);
    assert.equal(r.kind, 'mpi');
    assert.deepEqual(r.sum, sum, `${label}: float32 sums of integers are exact`);
    assert.deepEqual(r.sum64, [2, -1]);
    assert.deepEqual(r.max, [1, 0]);
    assert.deepEqual(r.min, [0, -1]);
    assert.deepEqual(r.outer, [100, 100, 200, 200, 200, 100, 100, 100], 'only the subarray view is reduced');
    assert.deepEqual(r.gathered, [0, 0, 0, 1, 10, 100], 'allgather in rank order');
    assert.deepEqual(r.uneven, [0, 1, 1]);
    assert.deepEqual(r.bcast, Array.from({ length: 300 }, (_, i) => i / 3));
    assert.equal(r.text, 'config ✓ from rank 0');
    assert.deepEqual(r.strings, ['rank-0-', 'rank-1-xxxxx']);
    assert.equal(r.mismatch, 'UserError: the file list differs between processes (rank 0: hash-a; rank 1: hash-b)');
  }
}

describe('2-rank jobs under MPICH', { skip: skipJobs }, () => {
  test('collectives: one MPI call per collective, and in 16-byte pieces', async () => {
    const whole = outputDir('whole');
    const pieces = outputDir('pieces');
    const [wholeCode, piecesResult] = await Promise.all([
      runLocalJob(2, [worker, 'collectives'], {
        abi: 'mpich',
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, MPI_TEST_OUT: whole },
      }),
      runJob(...workerJob('collectives', '16'), { ...process.env, MPI_TEST_OUT: pieces }),
    ]);
    assert.equal(wholeCode, 0);
    assert.equal(piecesResult.code, 0, piecesResult.output);
    const wholeResults = rankResults(whole);
    const pieceResults = rankResults(pieces);
    assertCollectives(wholeResults, 'whole');
    assertCollectives(pieceResults, '16-byte pieces');
    // 4000-byte allreduce alone: 250 pieces of 4 floats
    assert.ok((pieceResults[0]!.calls as number) > 250 + (wholeResults[0]!.calls as number), `${pieceResults[0]!.calls} calls`);
  });

  test('a rank killed or aborting while the other waits in an allreduce ends the job within seconds', async () => {
    const job = (how: string) => runJob(...workerJob(`fail:${how}`), process.env, 30_000);
    // one job at a time: under load hydra may drop a rank's last stderr lines when it tears the job down
    const killed = await job('kill');
    const aborted = await job('catch-abort');
    assert.equal(killed.signal, null);
    assert.notEqual(killed.code, 0, killed.output);
    assert.ok(killed.ms < 10_000, `${killed.ms} ms`);
    assert.match(killed.output, /BAD TERMINATION|Killed/);
    assert.equal(aborted.code, 1, aborted.output);
    // the failing rank's own line, written before MPI_Abort as the trainer does (MPICH's abort message, printed inside
    // MPI_Abort, can be lost when hydra tears the job down on a loaded machine)
    assert.match(aborted.output, /rank 1: rank 1 fails/);
    assert.ok(aborted.ms < 10_000, `${aborted.ms} ms`);
  });

  test('runLocalJob: a Ctrl-C of the parent reaches every rank once, and the job exits 130', async () => {
    const dir = outputDir('signal');
    const parent = spawn(process.execPath, ['--import', 'tsx', localJobParent, 'wait-signal'], {
      env: { ...process.env, MPI_TEST_OUT: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    parent.stdout.on('data', (d: Buffer) => (output += d.toString()));
    parent.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let running = true;
    const exited = new Promise<number | null>((resolve) =>
      parent.on('close', (code) => {
        running = false;
        resolve(code);
      }),
    );
    const limit = setTimeout(() => parent.kill('SIGKILL'), 30_000);
    while (running && readdirSync(dir).filter((f) => f.startsWith('ready-')).length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(running, `the job ended before both ranks were ready: ${output}`);
    parent.kill('SIGINT');
    const code = await exited;
    clearTimeout(limit);
    assert.equal(code, 130, output);
    const results = rankResults(dir);
    assert.deepEqual(results.map((r) => r.signals), [['SIGINT'], ['SIGINT']]);
  });
});

describe('2-rank job under Open MPI', { skip: skipOpenMpi }, () => {
  test('collectives, with the launcher picking libmpi.so.40 over MPICH', async () => {
    const dir = outputDir('openmpi');
    const code = await runLocalJob(2, [worker, 'collectives', '16'], {
      abi: 'openmpi',
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, MPI_TEST_OUT: dir },
    });
    assert.equal(code, 0);
    assertCollectives(rankResults(dir), 'Open MPI');
  });
});
