// `dinotrain doctor`: what runtime this install has and what --device auto would pick.
import { Command } from '@commander-js/extra-typings';
import os from 'node:os';
import { defaultThreads, LIBRARY_PATH_HINT, listProviders, resolveDevice, type ProviderInfo } from '../engine/providers.js';
import { simdKernels } from '../engine/simd.js';
import { imageKernels } from '../data/image-kernels.js';
import { mpiLibraryInfo } from '../distributed/mpi-library.js';
import { dinotrainVersion, packageVersion } from '../util/version.js';
import { simdEnabled } from '../util/wasm-simd.js';

export function doctorReport(): Record<string, unknown> {
  const choice = resolveDevice('auto');
  return {
    dinotrain: dinotrainVersion,
    node: process.versions.node,
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    sharp: packageVersion('sharp'),
    platform: `${process.platform}/${process.arch}`,
    providers: listProviders(),
    'device auto': `${choice.device} (${choice.reason})`,
    'intra-op threads (default)': defaultThreads(),
    // data-parallel jobs (mpiexec -n N dinotrain pretrain ..., or --processes N): the MPI library a rank would load
    mpi: mpiStatus(),
    // optimizer, EMA, clip and augmentation kernels; without them the same maths runs as (several times slower) JS loops
    'wasm simd kernels': simdStatus(),
    cpus: os.cpus().length,
    'cpu model': os.cpus()[0]?.model ?? 'unknown',
    'free memory': `${(os.freemem() / 2 ** 30).toFixed(1)} GiB of ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
  };
}

/** One line per provider; a provider that cannot load adds a line per missing library with what installs it. */
export function providerLines(providers: ProviderInfo[]): string[] {
  const pad = ' '.repeat(14);
  return providers.flatMap((p) => {
    const usable = p.installed && p.loadable !== false;
    const lines = [`  ${usable ? '+' : '-'} ${p.name.padEnd(9)} ${p.detail}`];
    for (const m of p.missing ?? []) lines.push(`${pad}${m.library}: ${m.fix}`);
    if (p.missing?.length) lines.push(`${pad}${LIBRARY_PATH_HINT}`);
    return lines;
  });
}

function mpiStatus(): string {
  const m = mpiLibraryInfo();
  if (!m.found) return `not found (single-process training only; ${m.error}) — see docs/distributed.md`;
  return `${m.version} (${m.abi === 'openmpi' ? 'Open MPI' : 'MPICH'} ABI, ${m.path})`;
}

function simdStatus(): string {
  if (!simdEnabled()) return 'off (DINOTRAIN_SIMD=0: JS loops)';
  return simdKernels(16) && imageKernels(16) ? 'yes' : 'no (this runtime has no WebAssembly SIMD: JS loops)';
}

export function doctorCommand() {
  return new Command('doctor')
    .description('print versions, ONNX Runtime execution providers, the device --device auto picks, threads, MPI, SIMD kernels and memory')
    .option('--json', 'print as JSON')
    .action((opts) => {
      const r = doctorReport();
      if (opts.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      for (const [k, v] of Object.entries(r)) {
        if (k === 'providers') {
          console.log('execution providers:');
          for (const line of providerLines(v as ProviderInfo[])) console.log(line);
        } else console.log(`${k}: ${String(v)}`);
      }
    });
}
