// Runs N copies of the current CLI on this machine under the system's mpiexec.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { UserError } from '../util/errors.js';
import type { MpiAbi } from './mpi-abi.js';
import { MPI_LIBRARY_ENV, mpiLibraryInfo } from './mpi-library.js';

/** mpich: hydra (MPICH, Intel MPI); openmpi: Open MPI's mpirun (ORTE or PRRTE). */
export type MpiexecFlavor = 'mpich' | 'openmpi' | 'unknown';

export interface MpiexecLookup {
  /** Absolute path of an executable named `name` on PATH, or null. */
  which(name: string): string | null;
  flavorOf(path: string): MpiexecFlavor;
}

export interface MpiexecCommandOptions {
  /** ABI of the MPI library the ranks will load: picks the launcher of the same MPI when both are installed. */
  abi?: MpiAbi;
  lookup?: MpiexecLookup;
  /** The node binary and its flags (e.g. `--import tsx`); default: this process's. */
  execPath?: string;
  execArgv?: readonly string[];
  /** Open MPI refuses to start as root without being told. */
  asRoot?: boolean;
}

export interface MpiexecCommand {
  file: string;
  args: string[];
  flavor: MpiexecFlavor;
}

const LAUNCHERS: Record<MpiAbi | 'any', string[]> = {
  mpich: ['mpiexec.mpich', 'mpiexec.hydra', 'mpiexec', 'mpirun'],
  openmpi: ['mpirun.openmpi', 'mpiexec.openmpi', 'mpirun', 'mpiexec'],
  any: ['mpiexec', 'mpirun', 'mpiexec.mpich', 'mpiexec.hydra', 'mpirun.openmpi'],
};

/**
 * The command that starts `n` copies of `node <argv>` under mpiexec: argv is the script and its arguments
 * (process.argv.slice(1) minus whatever asked for the processes). Inspector flags are dropped from execArgv: every rank
 * would try to open the same port.
 */
export function mpiexecCommand(n: number, argv: readonly string[], options: MpiexecCommandOptions = {}): MpiexecCommand {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`process count ${n} is not a positive integer`);
  const lookup = options.lookup ?? systemLookup;
  const names = LAUNCHERS[options.abi ?? 'any'];
  let found: { file: string; flavor: MpiexecFlavor } | undefined;
  for (const name of names) {
    const file = lookup.which(name);
    if (!file) continue;
    const flavor = lookup.flavorOf(file);
    if (options.abi && flavor !== 'unknown' && flavor !== options.abi) continue;
    found = { file, flavor };
    break;
  }
  if (!found) {
    throw new UserError(
      `no MPI launcher on PATH (looked for ${names.join(', ')}${options.abi ? ` of ${options.abi}` : ''}); install MPICH (e.g. apt install mpich) or Open MPI`,
    );
  }
  const execArgv = (options.execArgv ?? process.execArgv).filter((a) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(a));
  const launcherArgs =
    found.flavor === 'openmpi'
      ? [
          '--oversubscribe', // more ranks than cores is allowed, as with hydra
          '--bind-to', 'none', // by default Open MPI pins a rank to one core (up to 2 ranks) or socket: ORT's threads would share it
          ...((options.asRoot ?? process.getuid?.() === 0) ? ['--allow-run-as-root'] : []),
        ]
      : [];
  return {
    file: found.file,
    args: ['-n', String(n), ...launcherArgs, options.execPath ?? process.execPath, ...execArgv, ...argv],
    flavor: found.flavor,
  };
}

export interface RunLocalJobOptions extends MpiexecCommandOptions {
  env?: NodeJS.ProcessEnv;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs the job and resolves with its exit code. mpiexec runs in its own process group, so a Ctrl-C on the terminal
 * reaches it once, forwarded from here (a second one makes hydra kill the ranks at once); hydra passes SIGINT and
 * SIGTERM on to every rank, Open MPI sends them SIGTERM. Hydra then exits 0 and Open MPI 1, so a job stopped by a
 * forwarded signal resolves with 128 + that signal's number, as a single-process run would exit. stdin is closed:
 * hydra would otherwise forward the terminal to rank 0 and stop on SIGTTIN in its background group. A SIGKILL of
 * this process leaves the job running.
 */
export function runLocalJob(n: number, argv: readonly string[], options: RunLocalJobOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  // ranks load the library of their launcher's MPI, unless DINOTRAIN_MPI_LIBRARY names one: then match the launcher to it
  const abi = options.abi ?? (env[MPI_LIBRARY_ENV] ? mpiLibraryInfo(env).abi : undefined);
  const command = mpiexecCommand(n, argv, { ...options, abi });
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, command.args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env,
      detached: true,
    });
    let forwarded: NodeJS.Signals | undefined;
    const forward = (signal: NodeJS.Signals) => {
      forwarded ??= signal;
      child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    // if this process exits first (an uncaught error here), the job must not run on unattended
    const killOnExit = () => child.kill('SIGTERM');
    process.on('exit', killOnExit);
    const cleanup = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      process.off('exit', killOnExit);
    };
    child.on('error', (err) => {
      cleanup();
      reject(err);
    });
    child.on('exit', (code, signal) => {
      cleanup();
      const signalCode = (name: NodeJS.Signals) => 128 + (osConstants.signals[name] ?? 0);
      if (forwarded) resolve(signalCode(forwarded));
      else if (signal) resolve(signalCode(signal));
      else resolve(code ?? 1);
    });
  });
}

const systemLookup: MpiexecLookup = {
  which(name) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not in this directory
      }
    }
    return null;
  },
  flavorOf(path) {
    const byName = flavorFromName(basename(safeRealpath(path)));
    if (byName !== 'unknown') return byName;
    const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5000 });
    const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (/HYDRA|MPICH|Intel\(R\) MPI/i.test(text)) return 'mpich';
    if (/Open MPI|OpenRTE|PRRTE|prterun/i.test(text)) return 'openmpi';
    return 'unknown';
  },
};

/** Debian names its launchers mpiexec.mpich / mpiexec.hydra / mpirun.openmpi / orterun behind the alternatives. */
export function flavorFromName(name: string): MpiexecFlavor {
  if (/mpich|hydra/.test(name)) return 'mpich';
  if (/openmpi|orterun|prterun/.test(name)) return 'openmpi';
  return 'unknown';
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
