// The handle values of the two MPI ABIs found on Linux.
//
// MPICH ABI (MPICH, Intel MPI, Cray MPICH, MVAPICH): handles are C ints with fixed values, checked against MPICH 4.0's
// mpi.h; MPI_IN_PLACE is (void *)-1. Open MPI (libmpi.so.40, versions 3 to 5): handles are the addresses of exported
// globals (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`), checked against Open MPI 4.1's mpi.h; MPI_IN_PLACE is (void *)1.

export type MpiAbi = 'mpich' | 'openmpi';

/** A communicator, datatype, op or info handle as the C ABI passes it: an int (MPICH ABI) or an address (Open MPI). */
export type MpiHandle = number | bigint;

export interface MpiConstants {
  /** The C type of a handle parameter, for koffi prototypes. */
  handleCType: 'int' | 'void *';
  commWorld: MpiHandle;
  infoNull: MpiHandle;
  float: MpiHandle;
  double: MpiHandle;
  int: MpiHandle;
  int64: MpiHandle;
  byte: MpiHandle;
  char: MpiHandle;
  sum: MpiHandle;
  max: MpiHandle;
  min: MpiHandle;
  inPlace: bigint;
  commTypeShared: number;
  /** Buffer size MPI_Get_library_version needs. */
  maxLibraryVersionString: number;
}

/** MPI_THREAD_* levels; the same enum values in both ABIs. */
export const MPI_THREAD = { single: 0, funneled: 1, serialized: 2, multiple: 3 } as const;

export const MPI_SUCCESS = 0;

export const MPICH_ABI_CONSTANTS: MpiConstants = {
  handleCType: 'int',
  commWorld: 0x44000000,
  infoNull: 0x1c000000,
  float: 0x4c00040a,
  double: 0x4c00080b,
  int: 0x4c000405,
  int64: 0x4c00083a, // MPI_INT64_T
  byte: 0x4c00010d,
  char: 0x4c000101,
  max: 0x58000001,
  min: 0x58000002,
  sum: 0x58000003,
  inPlace: 0xffffffffffffffffn,
  commTypeShared: 1,
  maxLibraryVersionString: 8192,
};

/** Open MPI's constants, from the addresses of its exported globals. */
export function openMpiConstants(address: (symbol: string) => bigint): MpiConstants {
  return {
    handleCType: 'void *',
    commWorld: address('ompi_mpi_comm_world'),
    infoNull: address('ompi_mpi_info_null'),
    float: address('ompi_mpi_float'),
    double: address('ompi_mpi_double'),
    int: address('ompi_mpi_int'),
    int64: address('ompi_mpi_int64_t'),
    byte: address('ompi_mpi_byte'),
    char: address('ompi_mpi_char'),
    sum: address('ompi_mpi_op_sum'),
    max: address('ompi_mpi_op_max'),
    min: address('ompi_mpi_op_min'),
    inPlace: 1n,
    commTypeShared: 0,
    maxLibraryVersionString: 256,
  };
}
