// Which ONNX Runtime execution providers this install has, whether the CUDA provider's libraries can load (and which
// are missing), and which provider a --device choice maps to.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
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
  /** CUDA: the provider's libraries load, with every library they need. */
  loadable?: boolean;
  /** CUDA: the libraries the dynamic loader could not find, each with what installs it. */
  missing?: MissingLibrary[];
}

export interface MissingLibrary {
  library: string;
  fix: string;
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

const CUDA_PROVIDER = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
const SHARED_PROVIDER = process.platform === 'win32' ? 'onnxruntime_providers_shared.dll' : 'libonnxruntime_providers_shared.so';
/** Loaded by the CUDA provider when it first needs them, not linked: cuDNN 9 (onnxruntime's cuda/cudnn_loader.cc). */
const CUDA_RUNTIME_LIBRARIES = process.platform === 'linux' ? ['libcudnn.so.9'] : [];

function gpuVisible(): boolean {
  if (process.platform === 'linux') return existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
  return process.platform === 'win32';
}

/** What provides a library the CUDA provider of onnxruntime-node 1.30 (built for CUDA 13 and cuDNN 9) needs. */
export function cudaLibraryFix(library: string): string {
  const fixes: [RegExp, string][] = [
    [/^libcuda\.so/, 'the NVIDIA driver (580 or newer for CUDA 13; in a container, start it with the GPUs passed through, e.g. docker run --gpus all)'],
    [/^libcudart\.so/, 'the CUDA 13 runtime (NVIDIA package cuda-cudart-13-<minor>, or all of CUDA 13: cuda-libraries-13-<minor>)'],
    [/^libcublas(Lt)?\.so/, 'cuBLAS for CUDA 13 (NVIDIA package libcublas-13-<minor>)'],
    [/^libcurand\.so/, 'cuRAND for CUDA 13 (NVIDIA package libcurand-13-<minor>)'],
    [/^libcufft\.so/, 'cuFFT for CUDA 13 (NVIDIA package libcufft-13-<minor>)'],
    [/^libnvrtc/, 'NVRTC for CUDA 13 (NVIDIA package cuda-nvrtc-13-<minor>)'],
    [/^libcudnn/, 'cuDNN 9 for CUDA 13 (NVIDIA package cudnn9-cuda-13)'],
    [/^(lib)?onnxruntime_providers/, 'the CUDA provider install is incomplete: run it again (docs/gpu.md)'],
  ];
  return fixes.find(([re]) => re.test(library))?.[1] ?? 'a library the CUDA provider links: install the package that ships it';
}

export const LIBRARY_PATH_HINT =
  'If it is installed, the dynamic loader does not search its folder: add the folder to LD_LIBRARY_PATH ' +
  '(e.g. export LD_LIBRARY_PATH=/usr/local/cuda-13.0/lib64:$LD_LIBRARY_PATH) or register it with ldconfig.';

export interface LibraryCheck {
  ok: boolean;
  /** Libraries the dynamic loader could not find: the library itself or any it depends on. */
  missing: string[];
  /** The loader's message when it failed for another reason (a wrong version, a missing symbol). */
  error?: string;
}

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
const koffi = (): Koffi => (koffiModule ??= require('koffi') as Koffi);

/**
 * dlopen `library` (a name the dynamic loader searches for, or a file) through koffi and close it again. Only for
 * libraries whose load-time code is safe to run alone: ORT's provider libraries dereference the host ORT registers
 * with them at load time, so they are checked with `missingDependencies`, never loaded here.
 */
export function loadCheck(library: string): LibraryCheck {
  try {
    koffi().load(library).unload();
    return { ok: true, missing: [] };
  } catch (e) {
    const message = (e as Error).message.replace(/^Failed to load shared library: /, '');
    const notFound = /^(?:(\S+): )?cannot open shared object file/.exec(message);
    if (notFound) return { ok: false, missing: [notFound[1] ?? library.split('/').pop()!] };
    return { ok: false, missing: [], error: message };
  }
}

/** What ldd reports missing for `path` (every library, transitively); undefined where ldd cannot tell. */
function lddCheck(path: string): LibraryCheck | undefined {
  if (process.platform !== 'linux') return undefined;
  const r = spawnSync('ldd', [path], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || typeof r.stdout !== 'string' || !r.stdout.includes('=>')) return undefined;
  const missing = [...r.stdout.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
  const error = `${r.stdout}\n${r.stderr}`.split('\n').find((l) => /version `.+' not found/.test(l))?.trim();
  return { ok: !missing.length && !error, missing, ...(error ? { error } : {}) };
}

/** The DT_NEEDED entries of an ELF64 little-endian library, read in place (provider libraries are hundreds of MB). */
export function elfNeeded(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const read = (pos: number, len: number) => {
      const buf = Buffer.alloc(len);
      return buf.subarray(0, readSync(fd, buf, 0, len, pos));
    };
    const h = read(0, 64);
    if (h.length < 64 || h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return [];
    const [phoff, phentsize, phnum] = [Number(h.readBigUInt64LE(32)), h.readUInt16LE(54), h.readUInt16LE(56)];
    const ph = read(phoff, phentsize * phnum);
    const segments = Array.from({ length: phnum }, (_, i) => {
      const o = i * phentsize;
      return { type: ph.readUInt32LE(o), offset: Number(ph.readBigUInt64LE(o + 8)), vaddr: Number(ph.readBigUInt64LE(o + 16)), size: Number(ph.readBigUInt64LE(o + 32)) };
    });
    const dynamic = segments.find((s) => s.type === 2); // PT_DYNAMIC
    if (!dynamic) return [];
    const d = read(dynamic.offset, dynamic.size);
    const needed: number[] = [];
    let strtab = -1;
    for (let o = 0; o + 16 <= d.length; o += 16) {
      const [tag, value] = [Number(d.readBigInt64LE(o)), Number(d.readBigUInt64LE(o + 8))];
      if (tag === 0) break; // DT_NULL
      if (tag === 1) needed.push(value); // DT_NEEDED
      if (tag === 5) strtab = value; // DT_STRTAB, an address: its file offset from the PT_LOAD holding it
    }
    const load = segments.find((s) => s.type === 1 && strtab >= s.vaddr && strtab < s.vaddr + s.size);
    if (!load) return [];
    return needed.map((off) => {
      const bytes = read(strtab - load.vaddr + load.offset + off, 256);
      return bytes.toString('latin1', 0, bytes.indexOf(0) < 0 ? bytes.length : bytes.indexOf(0));
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Which libraries `path` needs that cannot be loaded, without running its own load-time code: ldd where it works
 * (every missing library at once), else each of its DT_NEEDED entries loaded in turn through koffi.
 */
export function missingDependencies(path: string): LibraryCheck {
  const ldd = lddCheck(path);
  if (ldd) return ldd;
  const checks = elfNeeded(path).map(loadCheck);
  const missing = [...new Set(checks.flatMap((c) => c.missing))];
  const error = checks.find((c) => c.error)?.error;
  return { ok: checks.every((c) => c.ok), missing, ...(error ? { error } : {}) };
}

export interface CudaProviderStatus {
  /** libonnxruntime_providers_cuda.so is in onnxruntime-node's bin folder. */
  present: boolean;
  /** Every library it links, and those it loads when it runs (cuDNN), can be loaded. */
  loadable: boolean;
  missing: MissingLibrary[];
  error?: string;
}

const statusCache = new Map<string, CudaProviderStatus>();

/** Whether the CUDA provider in `dir` (onnxruntime-node's bin folder) can load here, and what is missing if not. */
export function cudaProviderStatus(dir = ortBinDir(), runtimeLibraries = CUDA_RUNTIME_LIBRARIES): CudaProviderStatus {
  const key = [dir, ...runtimeLibraries].join('\0');
  const cached = statusCache.get(key);
  if (cached) return cached;
  const provider = join(dir, CUDA_PROVIDER);
  let status: CudaProviderStatus;
  if (!existsSync(provider)) status = { present: false, loadable: false, missing: [] };
  else {
    const sharedCheck: LibraryCheck = existsSync(join(dir, SHARED_PROVIDER)) ? { ok: true, missing: [] } : { ok: false, missing: [SHARED_PROVIDER] };
    const checks = [sharedCheck, missingDependencies(provider), ...runtimeLibraries.map(loadCheck)];
    const names = [...new Set(checks.flatMap((c) => c.missing))];
    const error = checks.find((c) => c.error)?.error;
    status = {
      present: true,
      loadable: checks.every((c) => c.ok),
      missing: names.map((library) => ({ library, fix: cudaLibraryFix(library) })),
      ...(error ? { error } : {}),
    };
  }
  statusCache.set(key, status);
  return status;
}

/** The provider line for CUDA, from its status and whether a GPU is visible. */
export function cudaProviderInfo(status: CudaProviderStatus, gpu = gpuVisible()): ProviderInfo {
  if (!status.present) return { name: 'cuda', installed: false, detail: 'not installed (CUDA provider libraries were not downloaded; see docs/gpu.md)' };
  const base = { name: 'cuda', installed: true, loadable: status.loadable, missing: status.missing };
  if (!status.loadable) {
    const why = [status.missing.length ? `missing ${status.missing.map((m) => m.library).join(', ')}` : '', status.error ?? ''].filter(Boolean);
    return { ...base, detail: `installed, but cannot load: ${why.join('; ')}` };
  }
  return { ...base, detail: gpu ? 'installed, NVIDIA GPU visible' : 'installed, but no NVIDIA GPU visible' };
}

export function listProviders(): ProviderInfo[] {
  return ort.listSupportedBackends().map((b) => {
    if (b.name === 'cpu') return { name: 'cpu', installed: true, detail: 'bundled' };
    if (b.name === 'cuda') return cudaProviderInfo(cudaProviderStatus());
    return { name: b.name, installed: b.bundled, detail: b.bundled ? 'bundled' : 'not installed' };
  });
}

export const CUDA_INSTALL_HINT =
  'Install the CUDA execution provider (onnxruntime-node 1.30 downloads the CUDA 13 build from NuGet; it needs the NVIDIA ' +
  'driver 580+, CUDA 13 and cuDNN 9 on the machine, and network access): ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install (the flag keeps its old name) — see docs/gpu.md.';

function missingText(status: CudaProviderStatus): string {
  const libs = status.missing.map((m) => `${m.library} (${m.fix})`);
  return [...libs, status.error ?? ''].filter(Boolean).join('; ');
}

export function resolveDevice(device: Device): DeviceChoice {
  if (device === 'cpu') return { providers: ['cpu'], device: 'cpu', reason: '--device cpu' };
  if (device !== 'auto' && device !== 'cuda') throw new UserError(`unknown device '${device}'; valid: ${devices.join(', ')}`);
  const present = ort.listSupportedBackends().some((b) => b.name === 'cuda') && existsSync(join(ortBinDir(), CUDA_PROVIDER));
  const gpu = gpuVisible();
  if (device === 'cuda') {
    if (!present) throw new UserError(`--device cuda: the ONNX Runtime CUDA provider is not installed. ${CUDA_INSTALL_HINT}`);
    const status = cudaProviderStatus();
    if (!status.loadable) throw new UserError(`--device cuda: the CUDA provider cannot load: ${missingText(status)}. ${LIBRARY_PATH_HINT}`);
    if (!gpu) throw new UserError('--device cuda: the CUDA provider is installed but no NVIDIA GPU is visible (/dev/nvidia0 missing).');
    return { providers: ['cuda', 'cpu'], device: 'cuda', reason: '--device cuda' };
  }
  if (!present) return { providers: ['cpu'], device: 'cpu', reason: 'auto: CUDA provider not installed, using CPU' };
  if (!gpu) return { providers: ['cpu'], device: 'cpu', reason: 'auto: no NVIDIA GPU visible, using CPU' };
  const status = cudaProviderStatus();
  if (!status.loadable) {
    const why = status.missing.length ? `missing ${status.missing.map((m) => m.library).join(', ')}` : status.error;
    return { providers: ['cpu'], device: 'cpu', reason: `auto: CUDA provider cannot load (${why}), using CPU` };
  }
  return { providers: ['cuda', 'cpu'], device: 'cuda', reason: 'auto: CUDA provider installed and an NVIDIA GPU is visible' };
}

/**
 * Default intra-op threads: every core (ORT's own default also uses physical cores; we make it explicit), shared
 * equally by the processes of a job on this machine.
 */
export function defaultThreads(processesOnThisMachine = 1): number {
  return Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / processesOnThisMachine));
}
