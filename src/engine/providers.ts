// Which ONNX Runtime execution providers this install has, and which one a --device choice maps to.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { UserError } from '../util/errors.js';

export type Device = 'auto' | 'cpu' | 'cuda';
export const devices: Device[] = ['auto', 'cpu', 'cuda'];

export interface ProviderInfo {
  name: string;
  /** Compiled into the binding and its shared libraries are present. */
  installed: boolean;
  detail: string;
}

export interface DeviceChoice {
  providers: string[];
  device: 'cpu' | 'cuda';
  reason: string;
}

const require = createRequire(import.meta.url);

function ortBinDir(): string {
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

function cudaProviderLibrary(): string {
  return join(ortBinDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
}

function gpuVisible(): boolean {
  if (process.platform === 'linux') return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
  return process.platform === 'win32';
}

export function listProviders(): ProviderInfo[] {
  return ort.listSupportedBackends().map((b) => {
    if (b.name === 'cpu') return { name: 'cpu', installed: true, detail: 'bundled' };
    if (b.name === 'cuda') {
      const lib = existsSync(cudaProviderLibrary());
      const gpu = gpuVisible();
      const installed = lib;
      const detail = !lib
        ? 'not installed (CUDA provider libraries were not downloaded; see docs/gpu.md)'
        : gpu
          ? 'installed, NVIDIA GPU visible'
          : 'installed, but no NVIDIA GPU visible';
      return { name: 'cuda', installed, detail };
    }
    return { name: b.name, installed: b.bundled, detail: b.bundled ? 'bundled' : 'not installed' };
  });
}

export const CUDA_INSTALL_HINT =
  'Install the CUDA execution provider (needs CUDA 12 + cuDNN 9 on the machine and network access): ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install — see docs/gpu.md.';

export function resolveDevice(device: Device): DeviceChoice {
  const cuda = listProviders().find((p) => p.name === 'cuda');
  const cudaUsable = !!cuda?.installed && gpuVisible();
  if (device === 'cpu') return { providers: ['cpu'], device: 'cpu', reason: '--device cpu' };
  if (device === 'cuda') {
    if (!cuda?.installed) throw new UserError(`--device cuda: the ONNX Runtime CUDA provider is not installed. ${CUDA_INSTALL_HINT}`);
    if (!gpuVisible()) throw new UserError('--device cuda: the CUDA provider is installed but no NVIDIA GPU is visible (/dev/nvidia0 missing).');
    return { providers: ['cuda', 'cpu'], device: 'cuda', reason: '--device cuda' };
  }
  if (device !== 'auto') throw new UserError(`unknown device '${device}'; valid: ${devices.join(', ')}`);
  if (cudaUsable) return { providers: ['cuda', 'cpu'], device: 'cuda', reason: 'auto: CUDA provider installed and an NVIDIA GPU is visible' };
  const why = !cuda?.installed ? 'CUDA provider not installed' : 'no NVIDIA GPU visible';
  return { providers: ['cpu'], device: 'cpu', reason: `auto: ${why}, using CPU` };
}

/**
 * Default intra-op threads: every core (ORT's own default also uses physical cores; we make it explicit), shared
 * equally by the processes of a job on this machine.
 */
export function defaultThreads(processesOnThisMachine = 1): number {
  return Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / processesOnThisMachine));
}
