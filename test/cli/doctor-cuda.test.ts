// `dinotrain doctor` on a CUDA provider whose libraries cannot load, without a GPU: stand-ins for onnxruntime-node's
// bin folder are built here with cc, the CUDA provider linked against libraries that are then deleted. The check
// never loads the provider itself (ORT's providers need ORT's host at load time). The doctor lines (and the same
// objects in --json) name each missing library with what installs it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { providerLines } from '../../src/cli/doctor.js';
import { cudaLibraryFix, cudaProviderInfo, cudaProviderStatus, elfNeeded, missingDependencies } from '../../src/engine/providers.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-doctor-cuda-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const canBuild = process.platform === 'linux' && spawnSync('cc', ['--version']).status === 0;

function cc(args: string[]): void {
  const r = spawnSync('cc', args, { cwd: tmp, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** A shared library `soname` in `dir` defining `fn`. */
function stub(dir: string, soname: string, fn: string): void {
  writeFileSync(join(tmp, `${fn}.c`), `int ${fn}(void) { return 1; }\n`);
  cc(['-shared', '-fPIC', '-o', join(dir, soname), `-Wl,-soname,${soname}`, `${fn}.c`]);
}

/** A provider folder whose CUDA provider needs `absent` (libraries linked, then deleted) and the shared provider's symbol. */
function providerDir(name: string, absent: string[]): string {
  const dir = join(tmp, name);
  const libs = join(tmp, `${name}-libs`);
  for (const d of [dir, libs]) mkdirSync(d, { recursive: true });
  stub(dir, 'libonnxruntime_providers_shared.so', 'Provider_GetHost');
  const fns = absent.map((_, i) => `absent_${name.replace(/\W/g, '_')}_${i}`);
  absent.forEach((soname, i) => stub(libs, soname, fns[i]));
  const calls = fns.map((f) => `${f}()`).join(' + ') || '0';
  writeFileSync(join(tmp, `${name}.c`), `${fns.map((f) => `int ${f}(void);`).join(' ')} int Provider_GetHost(void);\nint use(void) { return ${calls} + Provider_GetHost(); }\n`);
  // as ORT's provider: Provider_GetHost left undefined, for the shared provider to supply, bound at load time
  cc(['-shared', '-fPIC', '-Wl,-z,now', '-o', join(dir, 'libonnxruntime_providers_cuda.so'), `${name}.c`, `-L${libs}`, ...absent.map((s) => `-l:${s}`)]);
  rmSync(libs, { recursive: true });
  return dir;
}

test('doctor names every library the CUDA provider cannot find, with its fix and LD_LIBRARY_PATH', { skip: !canBuild && 'needs cc on Linux' }, () => {
  const absent = ['libdinotrain-test-absent-a.so.13', 'libdinotrain-test-absent-b.so.10'];
  const status = cudaProviderStatus(providerDir('missing', absent), []);
  assert.equal(status.present, true);
  assert.equal(status.loadable, false);
  assert.deepEqual(status.missing.map((m) => m.library), absent);

  const info = cudaProviderInfo(status, false);
  const lines = providerLines([info]);
  assert.match(lines[0], /^ {2}- cuda {6}installed, but cannot load: missing libdinotrain-test-absent-a\.so\.13, libdinotrain-test-absent-b\.so\.10$/);
  for (const lib of absent) assert.ok(lines.some((l) => l.trim().startsWith(`${lib}: `)), `a line for ${lib}: ${lines.join('\n')}`);
  assert.match(lines.at(-1)!, /LD_LIBRARY_PATH/);
  // --json prints the same objects
  assert.deepEqual(JSON.parse(JSON.stringify(info)).missing, status.missing);
});

test('a library the provider loads at run time (cuDNN) is named when absent', { skip: !canBuild && 'needs cc on Linux' }, () => {
  const status = cudaProviderStatus(providerDir('runtime', []), ['libdinotrain-test-absent-runtime.so.9']);
  assert.equal(status.loadable, false);
  assert.deepEqual(status.missing.map((m) => m.library), ['libdinotrain-test-absent-runtime.so.9']);
});

test('without ldd, each library the ELF file names as needed is loaded in turn', { skip: !canBuild && 'needs cc on Linux' }, () => {
  const absent = ['libdinotrain-test-absent-c.so.1', 'libdinotrain-test-absent-d.so.2'];
  const provider = join(providerDir('noldd', absent), 'libonnxruntime_providers_cuda.so');
  assert.deepEqual(elfNeeded(provider).slice(0, 2), absent, 'DT_NEEDED in link order');
  const path = process.env.PATH;
  process.env.PATH = '';
  try {
    assert.deepEqual(missingDependencies(provider), { ok: false, missing: absent });
  } finally {
    process.env.PATH = path;
  }
});

test('a provider whose libraries all load is usable; the GPU is reported separately', { skip: !canBuild && 'needs cc on Linux' }, () => {
  const status = cudaProviderStatus(providerDir('complete', []), []);
  assert.deepEqual(status, { present: true, loadable: true, missing: [] });
  assert.deepEqual(providerLines([cudaProviderInfo(status, false)]), ['  + cuda      installed, but no NVIDIA GPU visible']);
  assert.deepEqual(providerLines([cudaProviderInfo(status, true)]), ['  + cuda      installed, NVIDIA GPU visible']);
});

test('a CUDA provider without the shared provider next to it is an incomplete install', { skip: !canBuild && 'needs cc on Linux' }, () => {
  const dir = providerDir('noshared', []);
  rmSync(join(dir, 'libonnxruntime_providers_shared.so'));
  const status = cudaProviderStatus(dir, []);
  assert.equal(status.loadable, false);
  assert.deepEqual(status.missing.map((m) => m.library), ['libonnxruntime_providers_shared.so']);
  assert.match(status.missing[0].fix, /install is incomplete/);
});

test('no provider library: not installed, nothing loaded', () => {
  const status = cudaProviderStatus(join(tmp, 'empty'), []);
  assert.deepEqual(status, { present: false, loadable: false, missing: [] });
  assert.match(providerLines([cudaProviderInfo(status, false)])[0], /^ {2}- cuda {6}not installed/);
});

test('the fixes name the CUDA 13 / cuDNN 9 packages and the driver', () => {
  assert.match(cudaLibraryFix('libcublasLt.so.13'), /cuBLAS for CUDA 13 .*libcublas-13-/);
  assert.match(cudaLibraryFix('libcudart.so.13'), /CUDA 13 runtime .*cuda-cudart-13-/);
  assert.match(cudaLibraryFix('libcurand.so.10'), /cuRAND for CUDA 13/);
  assert.match(cudaLibraryFix('libcudnn.so.9'), /cuDNN 9 for CUDA 13 .*cudnn9-cuda-13/);
  assert.match(cudaLibraryFix('libcuda.so.1'), /NVIDIA driver \(580 or newer/);
});
