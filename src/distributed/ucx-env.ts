// UCX (the transport under Debian's MPICH, ch4:ucx) patches mmap/munmap/brk at run time to learn about freed memory
// ("memory events", for its registration cache). In a Node process, whose V8 and libuv threads map memory while the
// patch goes in, that broke 10 of 390 two-rank starts on a busy 2-core machine: SIGSEGV inside V8, or MPI_Init blocked
// in a write to UCX's async pipe. With the events off: none in 470 starts, and the same allreduce speed (UCX then
// goes without its registration cache). UCX_MEM_MMAP_HOOK_MODE=reloc instead hung every start.

/** Settings applied before the MPI library is loaded, unless the user's environment already sets them. */
export const UCX_DEFAULTS: Readonly<Record<string, string>> = {
  UCX_MEM_EVENTS: 'no',
};

export function applyUcxDefaults(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(UCX_DEFAULTS)) {
    if (env[name] === undefined) env[name] = value;
  }
}
