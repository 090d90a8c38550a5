// Finds and loads the system's MPI library through koffi. Nothing here runs at import time: koffi and the library are
// loaded by the first call, so single-process runs never touch either.

import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, isAbsolute } from 'node:path';
import type { LibraryHandle } from 'koffi';
import { MPICH_ABI_CONSTANTS, openMpiConstants, type MpiAbi, type MpiConstants, type MpiHandle } from './mpi-abi.js';
import { applyUcxDefaults } from './ucx-env.js';

export const MPI_LIBRARY_ENV = 'DINOTRAIN_MPI_LIBRARY';

/** sonames tried, per ABI: MPICH ≥ 3.1 and Intel MPI ship libmpi.so.12, Debian's mpich only libmpich.so.12. */
const LIBRARY_NAMES: Record<MpiAbi, string[]> = {
  mpich: ['libmpi.so.12', 'libmpich.so.12'],
  openmpi: ['libmpi.so.40'],
};

type Pointer = ArrayBufferView | bigint | null;
/** Where MPI writes a handle: Int32Array(1) for MPICH-ABI ints, BigUint64Array(1) for Open MPI's pointers. */
export type HandleSlot = Int32Array | BigUint64Array;

/** The MPI functions dinotrain calls; pointers are typed arrays passed without copy, or raw addresses. */
export interface MpiFunctions {
  MPI_Get_library_version(version: Uint8Array, resultlen: Int32Array): number;
  MPI_Initialized(flag: Int32Array): number;
  MPI_Finalized(flag: Int32Array): number;
  MPI_Init_thread(argc: null, argv: null, required: number, provided: Int32Array): number;
  MPI_Comm_rank(comm: MpiHandle, rank: Int32Array): number;
  MPI_Comm_size(comm: MpiHandle, size: Int32Array): number;
  MPI_Comm_split_type(comm: MpiHandle, splitType: number, key: number, info: MpiHandle, newcomm: HandleSlot): number;
  MPI_Comm_free(comm: HandleSlot): number;
  MPI_Allreduce(send: Pointer, recv: Pointer, count: number, datatype: MpiHandle, op: MpiHandle, comm: MpiHandle): number;
  MPI_Allgather(
    send: Pointer,
    sendcount: number,
    sendtype: MpiHandle,
    recv: Pointer,
    recvcount: number,
    recvtype: MpiHandle,
    comm: MpiHandle,
  ): number;
  MPI_Allgatherv(
    send: Pointer,
    sendcount: number,
    sendtype: MpiHandle,
    recv: Pointer,
    recvcounts: Int32Array,
    displs: Int32Array,
    recvtype: MpiHandle,
    comm: MpiHandle,
  ): number;
  MPI_Bcast(buffer: Pointer, count: number, datatype: MpiHandle, root: number, comm: MpiHandle): number;
  MPI_Barrier(comm: MpiHandle): number;
  MPI_Abort(comm: MpiHandle, errorcode: number): number;
  MPI_Finalize(): number;
  MPI_Error_string(errorcode: number, string: Uint8Array, resultlen: Int32Array): number;
}

export interface MpiLibrary {
  /** The file loaded, resolved when possible (else the name given to dlopen). */
  path: string;
  abi: MpiAbi;
  constants: MpiConstants;
  fn: MpiFunctions;
  newHandleSlot(): HandleSlot;
  readHandle(slot: HandleSlot): MpiHandle;
}

export interface MpiLibraryInfo {
  found: boolean;
  path?: string;
  abi?: MpiAbi;
  /** First line of MPI_Get_library_version, e.g. "MPICH Version: 4.0.2" or "Open MPI v4.1.4, package: ...". */
  version?: string;
  /** The whole MPI_Get_library_version text (MPICH adds its configure line and compilers). */
  versionText?: string;
  error?: string;
}

export class MpiLibraryNotFound extends Error {
  constructor(readonly attempts: { name: string; error: string }[]) {
    super(`no MPI library could be loaded (${attempts.map((a) => `${a.name}: ${a.error}`).join('; ')})`);
    this.name = 'MpiLibraryNotFound';
  }
}

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
function koffi(): Koffi {
  koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi;
  return koffiModule;
}

/** Library names to try, in order: DINOTRAIN_MPI_LIBRARY alone when set, else the sonames, `prefer`'s ABI first. */
export function mpiLibraryCandidates(env: NodeJS.ProcessEnv = process.env, prefer: MpiAbi = 'mpich'): string[] {
  const explicit = env[MPI_LIBRARY_ENV];
  if (explicit) return [explicit];
  const other: MpiAbi = prefer === 'mpich' ? 'openmpi' : 'mpich';
  return [...LIBRARY_NAMES[prefer], ...LIBRARY_NAMES[other]];
}

const loaded = new Map<string, MpiLibrary>();

/** Loads the first MPI library that opens; throws MpiLibraryNotFound naming every attempt. Does not call MPI_Init. */
export function loadMpiLibrary(env: NodeJS.ProcessEnv = process.env, prefer: MpiAbi = 'mpich'): MpiLibrary {
  const attempts: { name: string; error: string }[] = [];
  for (const name of mpiLibraryCandidates(env, prefer)) {
    const cached = loaded.get(name);
    if (cached) return cached;
    try {
      const library = bindLibrary(name);
      loaded.set(name, library);
      return library;
    } catch (err) {
      attempts.push({ name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new MpiLibraryNotFound(attempts);
}

/** What `dinotrain doctor` shows: the library that would be used and its version, without initialising MPI. */
export function mpiLibraryInfo(env: NodeJS.ProcessEnv = process.env): MpiLibraryInfo {
  try {
    const library = loadMpiLibrary(env);
    const versionText = libraryVersion(library);
    return {
      found: true,
      path: library.path,
      abi: library.abi,
      version: versionText.split('\n')[0]!.replace(/\s+/g, ' ').trim(),
      versionText,
    };
  } catch (err) {
    return { found: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** MPI_Get_library_version: one of the few MPI calls allowed before MPI_Init. */
export function libraryVersion(library: MpiLibrary): string {
  const text = new Uint8Array(library.constants.maxLibraryVersionString);
  const length = new Int32Array(1);
  library.fn.MPI_Get_library_version(text, length);
  // Open MPI counts the terminating NUL in the length
  return Buffer.from(text.buffer, 0, length[0]).toString('utf8').replace(/\0+$/, '').trim();
}

function bindLibrary(name: string): MpiLibrary {
  // process.env writes reach the C environment (setenv), which UCX reads when MPI loads and initialises it
  applyUcxDefaults();
  // RTLD_GLOBAL: Open MPI's plugins (and some MPICH builds' netmods) dlopen and resolve libmpi's symbols globally
  const lib = koffi().load(name, { global: true });
  const abi = detectAbi(lib, name);
  const constants =
    abi === 'mpich' ? MPICH_ABI_CONSTANTS : openMpiConstants((symbol) => lib.symbol(symbol) as bigint);
  const fn = bindFunctions(lib, constants.handleCType);
  return {
    path: resolvedPath(name),
    abi,
    constants,
    fn,
    newHandleSlot: () => (abi === 'mpich' ? new Int32Array(1) : new BigUint64Array(1)),
    readHandle: (slot) => slot[0]!,
  };
}

function detectAbi(lib: LibraryHandle, name: string): MpiAbi {
  if (hasSymbol(lib, 'ompi_mpi_comm_world')) return 'openmpi';
  if (hasSymbol(lib, 'MPI_Init_thread')) return 'mpich';
  throw new Error(`${name} does not export MPI_Init_thread: not an MPI library`);
}

function hasSymbol(lib: LibraryHandle, symbol: string): boolean {
  try {
    lib.symbol(symbol);
    return true;
  } catch {
    return false;
  }
}

function bindFunctions(lib: LibraryHandle, H: string): MpiFunctions {
  const f = (prototype: string) => lib.func(prototype);
  return {
    MPI_Get_library_version: f('int MPI_Get_library_version(void *version, void *resultlen)'),
    MPI_Initialized: f('int MPI_Initialized(void *flag)'),
    MPI_Finalized: f('int MPI_Finalized(void *flag)'),
    MPI_Init_thread: f('int MPI_Init_thread(void *argc, void *argv, int required, void *provided)'),
    MPI_Comm_rank: f(`int MPI_Comm_rank(${H} comm, void *rank)`),
    MPI_Comm_size: f(`int MPI_Comm_size(${H} comm, void *size)`),
    MPI_Comm_split_type: f(`int MPI_Comm_split_type(${H} comm, int split_type, int key, ${H} info, void *newcomm)`),
    MPI_Comm_free: f('int MPI_Comm_free(void *comm)'),
    MPI_Allreduce: f(
      `int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, ${H} datatype, ${H} op, ${H} comm)`,
    ),
    MPI_Allgather: f(
      `int MPI_Allgather(void *sendbuf, int sendcount, ${H} sendtype, void *recvbuf, int recvcount, ${H} recvtype, ${H} comm)`,
    ),
    MPI_Allgatherv: f(
      `int MPI_Allgatherv(void *sendbuf, int sendcount, ${H} sendtype, void *recvbuf, void *recvcounts, void *displs, ${H} recvtype, ${H} comm)`,
    ),
    MPI_Bcast: f(`int MPI_Bcast(void *buffer, int count, ${H} datatype, int root, ${H} comm)`),
    MPI_Barrier: f(`int MPI_Barrier(${H} comm)`),
    MPI_Abort: f(`int MPI_Abort(${H} comm, int errorcode)`),
    MPI_Finalize: f('int MPI_Finalize()'),
    MPI_Error_string: f('int MPI_Error_string(int errorcode, void *string, void *resultlen)'),
  };
}

/** The file dlopen picked for `name`, read from /proc/self/maps (Linux); the name itself when not found. */
function resolvedPath(name: string): string {
  if (isAbsolute(name) || name.includes('/')) {
    try {
      return realpathSync(name);
    } catch {
      return name;
    }
  }
  const stem = name.replace(/\.so(\..*)?$/, '.so');
  try {
    for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
      const file = line.slice(line.indexOf('/'));
      if (line.includes('/') && basename(file).startsWith(stem)) return file;
    }
  } catch {
    // not Linux: the soname is all we know
  }
  return name;
}
