// Collectives over MPI_COMM_WORLD on typed arrays. Every buffer is handed to MPI as a pointer into the typed array's
// own memory (koffi passes TypedArrays without copying), transfers larger than `maxChunkBytes` go in pieces.

import { chunkElements, chunkRanges, DEFAULT_MAX_CHUNK_BYTES, INT_MAX } from './chunks.js';
import { MPI_THREAD, MPI_SUCCESS, type MpiHandle } from './mpi-abi.js';
import { loadMpiLibrary, type MpiLibrary } from './mpi-library.js';

export type ReduceArray = Float32Array | Float64Array | Int32Array;
export type GatherArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** What data-parallel training needs from its peers; SingleProcessCommunicator implements it for one process. */
export interface Communicator {
  readonly kind: 'mpi' | 'single-process';
  readonly rank: number;
  readonly size: number;
  /** Rank among the processes on this machine (MPI_COMM_TYPE_SHARED), e.g. to pick a GPU or split CPU threads. */
  readonly localRank: number;
  readonly localSize: number;
  /** In place: every rank ends with the element-wise sum over ranks. Lengths must match on all ranks. */
  allreduceSum(buf: ReduceArray): void;
  allreduceMax(buf: ReduceArray): void;
  allreduceMin(buf: ReduceArray): void;
  /** recv (length send.length × size, not overlapping send) receives every rank's send, in rank order. */
  allgather<T extends GatherArray>(send: T, recv: T): void;
  /** Uneven allgather: rank r contributes counts[r] elements; recv.length is their sum. Every rank passes the same counts. */
  allgatherv<T extends GatherArray>(send: T, recv: T, counts: readonly number[]): void;
  /** Overwrites buf on every rank with root's bytes. */
  broadcast(buf: ArrayBufferView, root?: number): void;
  /** root's value, on every rank (others' arguments are ignored). */
  broadcastString(value: string, root?: number): string;
  /** Every rank's value, indexed by rank. */
  allgatherStrings(value: string): string[];
  barrier(): void;
  /**
   * Ends every process of the job with `code` (MPI_Abort): what a rank that fails must do while others may be waiting
   * in a collective. Hydra (MPICH 4.0) then ends the job within ~10 ms with exit code `code`.
   */
  abort(code: number): never;
  /**
   * Collective: every rank calls it once, before exiting. Under hydra, a rank that exits without it, even with code 0,
   * gets every other rank killed, and the job exits with that rank's code (0 included).
   */
  finalize(): void;
}

export interface MpiCommunicatorOptions {
  library?: MpiLibrary;
  /** Largest single transfer; tests lower it to exercise chunking. */
  maxChunkBytes?: number;
}

let current: MpiCommunicator | undefined;

/** MPI calls made and the payload they carried (allreduce/bcast: the buffer; allgather: the gathered result). */
export interface TransferStats {
  calls: number;
  bytes: number;
}

export class MpiCommunicator implements Communicator {
  readonly kind = 'mpi';
  readonly stats: TransferStats = { calls: 0, bytes: 0 };
  private finalized = false;

  private constructor(
    readonly library: MpiLibrary,
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
    readonly localSize: number,
    /** MPI_THREAD_* level granted; calls only ever come from Node's main thread, so FUNNELED is enough. */
    readonly threadLevel: number,
    readonly maxChunkBytes: number,
  ) {}

  /** MPI_Init_thread(FUNNELED) once per process; later calls return the same communicator. */
  static init(options: MpiCommunicatorOptions = {}): MpiCommunicator {
    if (current) return current;
    const library = options.library ?? loadMpiLibrary();
    const { fn, constants: c } = library;
    const flag = new Int32Array(1);
    check(library, 'MPI_Finalized', fn.MPI_Finalized(flag));
    if (flag[0]) throw new Error('MPI was already finalized in this process; it cannot be initialised again');
    check(library, 'MPI_Initialized', fn.MPI_Initialized(flag));
    const provided = new Int32Array([MPI_THREAD.funneled]);
    if (!flag[0]) check(library, 'MPI_Init_thread', fn.MPI_Init_thread(null, null, MPI_THREAD.funneled, provided));

    const out = new Int32Array(1);
    check(library, 'MPI_Comm_rank', fn.MPI_Comm_rank(c.commWorld, out));
    const rank = out[0]!;
    check(library, 'MPI_Comm_size', fn.MPI_Comm_size(c.commWorld, out));
    const size = out[0]!;

    const node = library.newHandleSlot();
    check(library, 'MPI_Comm_split_type', fn.MPI_Comm_split_type(c.commWorld, c.commTypeShared, rank, c.infoNull, node));
    const nodeComm = library.readHandle(node);
    check(library, 'MPI_Comm_rank', fn.MPI_Comm_rank(nodeComm, out));
    const localRank = out[0]!;
    check(library, 'MPI_Comm_size', fn.MPI_Comm_size(nodeComm, out));
    const localSize = out[0]!;
    check(library, 'MPI_Comm_free', fn.MPI_Comm_free(node));

    current = new MpiCommunicator(
      library,
      rank,
      size,
      localRank,
      localSize,
      provided[0]!,
      options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES,
    );
    return current;
  }

  allreduceSum(buf: ReduceArray): void {
    this.allreduce(buf, this.library.constants.sum);
  }

  allreduceMax(buf: ReduceArray): void {
    this.allreduce(buf, this.library.constants.max);
  }

  allreduceMin(buf: ReduceArray): void {
    this.allreduce(buf, this.library.constants.min);
  }

  allgather<T extends GatherArray>(send: T, recv: T): void {
    this.allgatherv(send, recv, new Array<number>(this.size).fill(send.length));
  }

  allgatherv<T extends GatherArray>(send: T, recv: T, counts: readonly number[]): void {
    const displacements = this.checkGather(send, recv, counts);
    const total = recv.length;
    if (total === 0) return;
    const dt = this.datatype(send);
    const { fn, constants: c } = this.library;
    if (total * send.BYTES_PER_ELEMENT <= this.maxChunkBytes && total <= INT_MAX) {
      this.count(recv.byteLength);
      if (counts.every((n) => n === send.length)) {
        this.check('MPI_Allgather', fn.MPI_Allgather(send, send.length, dt, recv, send.length, dt, c.commWorld));
      } else {
        const recvcounts = Int32Array.from(counts);
        const displs = Int32Array.from(displacements);
        this.check('MPI_Allgatherv', fn.MPI_Allgatherv(send, send.length, dt, recv, recvcounts, displs, dt, c.commWorld));
      }
      return;
    }
    // Too large for one call (counts and displacements are ints): each rank's block is broadcast from its owner.
    recv.set(send, displacements[this.rank]);
    for (let r = 0; r < this.size; r++) {
      this.broadcast(recv.subarray(displacements[r]!, displacements[r]! + counts[r]!), r);
    }
  }

  broadcast(buf: ArrayBufferView, root = 0): void {
    this.checkRoot(root);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const { fn, constants: c } = this.library;
    for (const [start, end] of chunkRanges(bytes.length, chunkElements(this.maxChunkBytes, 1))) {
      const piece = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
      this.count(piece.byteLength);
      this.check('MPI_Bcast', fn.MPI_Bcast(piece, end - start, c.byte, root, c.commWorld));
    }
  }

  broadcastString(value: string, root = 0): string {
    const encoded = this.rank === root ? Buffer.from(value, 'utf8') : undefined;
    const length = new Float64Array([encoded?.length ?? 0]);
    this.broadcast(length, root);
    const bytes = encoded ?? Buffer.alloc(length[0]!);
    this.broadcast(bytes, root);
    return bytes.toString('utf8');
  }

  allgatherStrings(value: string): string[] {
    const encoded = Buffer.from(value, 'utf8');
    const lengths = new Float64Array(this.size);
    this.allgather(new Float64Array([encoded.length]), lengths);
    const counts = Array.from(lengths);
    const all = Buffer.alloc(counts.reduce((a, b) => a + b, 0));
    this.allgatherv(new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.length), all, counts);
    const strings: string[] = [];
    let offset = 0;
    for (const n of counts) {
      strings.push(all.toString('utf8', offset, offset + n));
      offset += n;
    }
    return strings;
  }

  barrier(): void {
    this.check('MPI_Barrier', this.library.fn.MPI_Barrier(this.library.constants.commWorld));
  }

  abort(code: number): never {
    this.library.fn.MPI_Abort(this.library.constants.commWorld, code);
    process.exit(code); // MPI_Abort does not return; this is for an implementation that does
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.check('MPI_Finalize', this.library.fn.MPI_Finalize());
  }

  private allreduce(buf: ReduceArray, op: MpiHandle): void {
    const dt = this.datatype(buf);
    const { fn, constants: c } = this.library;
    for (const [start, end] of chunkRanges(buf.length, chunkElements(this.maxChunkBytes, buf.BYTES_PER_ELEMENT))) {
      const piece = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
      this.count(piece.byteLength);
      this.check('MPI_Allreduce', fn.MPI_Allreduce(c.inPlace, piece, end - start, dt, op, c.commWorld));
    }
  }

  private datatype(buf: GatherArray): MpiHandle {
    const c = this.library.constants;
    if (buf instanceof Float32Array) return c.float;
    if (buf instanceof Float64Array) return c.double;
    if (buf instanceof Int32Array) return c.int;
    if (buf instanceof Uint8Array) return c.byte;
    throw new TypeError(`no MPI datatype for ${(buf as object).constructor.name}`);
  }

  /** Validates an allgatherv's shapes; returns each rank's element offset in recv. */
  private checkGather(send: GatherArray, recv: GatherArray, counts: readonly number[]): number[] {
    if (counts.length !== this.size) throw new RangeError(`allgatherv: ${counts.length} counts for ${this.size} ranks`);
    if (counts[this.rank] !== send.length) {
      throw new RangeError(`allgatherv: rank ${this.rank} sends ${send.length} elements, counts say ${counts[this.rank]}`);
    }
    if (this.datatype(send) !== this.datatype(recv)) throw new TypeError('allgather: send and recv differ in element type');
    const displacements: number[] = [];
    let total = 0;
    for (const n of counts) {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`allgatherv: bad count ${n}`);
      displacements.push(total);
      total += n;
    }
    if (recv.length !== total) throw new RangeError(`allgather: recv holds ${recv.length} elements, needs ${total}`);
    return displacements;
  }

  private checkRoot(root: number): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new RangeError(`root ${root} out of 0..${this.size - 1}`);
  }

  private count(bytes: number): void {
    this.stats.calls++;
    this.stats.bytes += bytes;
  }

  private check(name: string, code: number): void {
    check(this.library, name, code);
  }
}

function check(library: MpiLibrary, name: string, code: number): void {
  if (code === MPI_SUCCESS) return;
  const text = new Uint8Array(1024);
  const length = new Int32Array(1);
  const described = library.fn.MPI_Error_string(code, text, length) === MPI_SUCCESS;
  const message = described ? Buffer.from(text.buffer, 0, length[0]).toString('utf8').replace(/\0+$/, '') : '';
  throw new Error(`${name} failed with MPI error ${code}${message ? `: ${message}` : ''}`);
}
