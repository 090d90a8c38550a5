// How `pretrain` runs: in this process; as a job of `processes` ranks on this machine (mpiexec, started from here);
// or as one rank of a job a launcher started (mpirun, srun, the MPI Operator), which each rank learns from MPI.
// In a job, an error on any rank brings the whole job down at once with one line saying which rank and why.
import type { PretrainConfig } from '../config/schema.js';
import type { Communicator } from '../distributed/communicator.js';
import { createCommunicator, launchedByMpi } from '../distributed/launch.js';
import { runLocalJob } from '../distributed/local-job.js';
import { UserError } from '../util/errors.js';
import { runPretrain, type RunOptions } from './run.js';

/** How long a rank other than 0 waits before it reports its own error: rank 0's, if it has one, comes first. */
const LATER_RANKS_WAIT_MS = 1500;
/**
 * How long a rank waits between writing its error line and MPI_Abort: the launcher (hydra's proxy, orted) forwards a
 * rank's stderr on its own schedule and drops what it has not forwarded when the abort tears the job down, which on
 * a loaded machine lost the line.
 */
const FORWARD_BEFORE_ABORT_MS = 500;

export async function pretrainJob(cfg: PretrainConfig, opts: Omit<RunOptions, 'comm'>): Promise<void> {
  const launch = launchedByMpi();
  if (!launch && cfg.processes > 1) {
    process.exitCode = await runLocalJob(cfg.processes, process.argv.slice(1));
    return;
  }
  const comm = createCommunicator();
  if (comm.size === 1) return runPretrain(cfg, { ...opts, comm });
  try {
    await runPretrain(cfg, { ...opts, comm });
  } catch (err) {
    await endJob(comm, err);
  }
  comm.finalize();
}

/** One line on stderr (the rank and the error), then MPI_Abort with the error's exit code: every rank stops. */
async function endJob(comm: Communicator, err: unknown): Promise<never> {
  if (comm.rank > 0) await new Promise((r) => setTimeout(r, LATER_RANKS_WAIT_MS));
  const user = err instanceof UserError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`dinotrain: rank ${comm.rank} of ${comm.size}: ${user ? '' : 'internal error: '}${message}\n`);
  if (!user && process.env.DINOTRAIN_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  await new Promise((r) => setTimeout(r, FORWARD_BEFORE_ABORT_MS));
  comm.abort(user ? err.exitCode : 1);
}
