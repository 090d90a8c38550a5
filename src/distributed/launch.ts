// Was this process started as one rank of a multi-process job? Answered from the launcher's environment variables
// alone, before any MPI library is loaded, so single-process runs never load one.
//
// Rules, first match wins:
// 1. Open MPI (mpirun/mpiexec/prterun): OMPI_COMM_WORLD_SIZE and OMPI_COMM_WORLD_RANK
//    (local: OMPI_COMM_WORLD_LOCAL_RANK / OMPI_COMM_WORLD_LOCAL_SIZE).
// 2. PMI (MPICH's and Intel MPI's hydra mpiexec, srun --mpi=pmi2): PMI_SIZE and PMI_RANK
//    (local: MPI_LOCALRANKID / MPI_LOCALNRANKS from hydra, else SLURM_LOCALID).
// 3. srun: SLURM_STEP_ID, SLURM_STEP_NUM_TASKS (set by srun for the tasks of a step) and a rank (PMIX_RANK, else
//    SLURM_PROCID). SLURM_NTASKS and SLURM_PROCID alone mean nothing: sbatch sets them in the batch script too, which
//    is one ordinary process however many tasks the allocation has.
// 4. PMIx without a size (e.g. PRRTE's prun): PMIX_RANK; the size is left to MPI.

import { UserError } from '../util/errors.js';
import { MpiCommunicator, type Communicator } from './communicator.js';
import type { MpiAbi } from './mpi-abi.js';
import { loadMpiLibrary, MPI_LIBRARY_ENV, MpiLibraryNotFound } from './mpi-library.js';
import { SingleProcessCommunicator } from './single-process.js';

export type MpiLauncher = 'open-mpi' | 'hydra' | 'pmi' | 'srun' | 'pmix';

export interface MpiLaunch {
  /** Number of processes the launcher started; null when it does not say (PMIx only): MPI will tell. */
  size: number | null;
  rank: number;
  localRank?: number;
  localSize?: number;
  launcher: MpiLauncher;
}

export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): MpiLaunch | null {
  const int = (name: string): number | undefined => {
    const text = env[name]?.trim();
    return text && /^\d+$/.test(text) ? Number(text) : undefined;
  };
  const local = (rank: string, size: string) => ({
    ...(int(rank) !== undefined && { localRank: int(rank) }),
    ...(int(size) !== undefined && { localSize: int(size) }),
  });

  const ompiSize = int('OMPI_COMM_WORLD_SIZE');
  const ompiRank = int('OMPI_COMM_WORLD_RANK');
  if (ompiSize !== undefined && ompiRank !== undefined) {
    return {
      size: ompiSize,
      rank: ompiRank,
      ...local('OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_SIZE'),
      launcher: 'open-mpi',
    };
  }

  const pmiSize = int('PMI_SIZE');
  const pmiRank = int('PMI_RANK');
  if (pmiSize !== undefined && pmiRank !== undefined) {
    const hydra = int('MPI_LOCALRANKID') !== undefined;
    return {
      size: pmiSize,
      rank: pmiRank,
      ...(hydra ? local('MPI_LOCALRANKID', 'MPI_LOCALNRANKS') : local('SLURM_LOCALID', '')),
      launcher: hydra ? 'hydra' : 'pmi',
    };
  }

  const stepSize = int('SLURM_STEP_NUM_TASKS');
  const stepRank = int('PMIX_RANK') ?? int('SLURM_PROCID');
  if (env.SLURM_STEP_ID !== undefined && stepSize !== undefined && stepRank !== undefined) {
    return { size: stepSize, rank: stepRank, ...local('SLURM_LOCALID', ''), launcher: 'srun' };
  }

  const pmixRank = int('PMIX_RANK');
  if (pmixRank !== undefined) return { size: null, rank: pmixRank, launcher: 'pmix' };
  return null;
}

export interface CreateCommunicatorOptions {
  maxChunkBytes?: number;
}

/**
 * SingleProcessCommunicator unless a launcher started more than one process; then MPI is loaded and initialised.
 * Throws a UserError when the MPI library cannot be loaded, or when MPI sees a different number of processes than
 * the launcher started (a launcher of one MPI with the library of another: each process would train alone).
 */
export function createCommunicator(
  env: NodeJS.ProcessEnv = process.env,
  options: CreateCommunicatorOptions = {},
): Communicator {
  const launch = launchedByMpi(env);
  if (!launch || launch.size === 1) return new SingleProcessCommunicator();

  const started = `${launch.launcher} started ${launch.size ?? 'several'} processes`;
  // the library that belongs to the launcher first, when both MPIs are installed
  const prefer: MpiAbi = launch.launcher === 'open-mpi' ? 'openmpi' : 'mpich';
  let library;
  try {
    library = loadMpiLibrary(env, prefer);
  } catch (err) {
    if (!(err instanceof MpiLibraryNotFound)) throw err;
    const tried = err.attempts.map((a) => `${a.name} (${a.error})`).join(', ');
    throw new UserError(
      `${started} but no MPI library could be loaded; tried ${tried}; install the MPI runtime of the launcher or set ${MPI_LIBRARY_ENV} to its libmpi`,
    );
  }
  const comm = MpiCommunicator.init({ library, maxChunkBytes: options.maxChunkBytes });
  if (launch.size !== null && comm.size !== launch.size) {
    throw new UserError(
      `${started} but MPI (${library.path}) joined ${comm.size}: the launcher does not belong to this MPI library (with srun, pass the --mpi=pmi2 or --mpi=pmix your MPI needs; or set ${MPI_LIBRARY_ENV})`,
    );
  }
  return comm;
}
