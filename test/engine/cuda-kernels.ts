// Whether ONNX Runtime's CUDA execution provider has a kernel for an op as a model of a given opset uses it, from the
// kernel tables in test/fixtures/ort-cuda-ops.json (test/fixtures/ort-cuda-ops.extract.ts).
//
// A node runs the schema in effect at the model's opset for its domain: the op's newest since_version <= that opset.
// ORT gives the node a kernel when the kernel's start equals that since_version, or start < it <= end for a closed
// range (onnxruntime/core/framework/kernel_registry.cc, VerifyKernelDef). So "13+" accepts since_version 13 only: an
// op that changed at 18 has no kernel at opset 18 when the provider registers "13+" and nothing newer.
//
// The op's since_versions are the starts of its kernels in the CPU and CUDA tables: ORT's own test requires a CPU
// kernel for every since_version of every ONNX-domain op that has no function body
// (onnxruntime/test/framework/kernel_registry_test.cc); contrib ops are at version 1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelRange, KernelsByDomain } from '../fixtures/ort-cuda-ops.extract.js';

export type { KernelRange };

export interface KernelTables {
  commit: string;
  kernels: { CUDAExecutionProvider: KernelsByDomain; CPUExecutionProvider: KernelsByDomain };
}

export function loadKernelTables(): KernelTables {
  return JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/ort-cuda-ops.json'), 'utf8')) as KernelTables;
}

/** ORT's rule: a kernel accepts the node whose schema since_version is `since`. */
export function kernelAccepts([start, end]: KernelRange, since: number): boolean {
  return start === since || (start < since && end !== null && end >= since);
}

/** The since_version in effect for a model importing `opset` of the op's domain; undefined before the op existed. */
export function versionInEffect(sinceVersions: number[], opset: number): number | undefined {
  const older = sinceVersions.filter((v) => v <= opset);
  return older.length ? Math.max(...older) : undefined;
}

/** The op's since_versions as the tables show them, ascending. */
export function sinceVersions(tables: KernelTables, domain: string, op: string): number[] {
  const ranges = Object.values(tables.kernels).flatMap((byDomain) => byDomain[domain]?.[op] ?? []);
  return [...new Set(ranges.map(([start]) => start))].sort((a, b) => a - b);
}

export interface Coverage {
  /** The since_version in effect; undefined when neither table knows the op at this opset. */
  since?: number;
  covered: boolean;
  /** The CUDA kernels registered for the op. */
  cuda: KernelRange[];
}

export function cudaCoverage(tables: KernelTables, domain: string, op: string, opset: number): Coverage {
  const cuda = tables.kernels.CUDAExecutionProvider[domain]?.[op] ?? [];
  const since = versionInEffect(sinceVersions(tables, domain, op), opset);
  return { since, covered: since !== undefined && cuda.some((r) => kernelAccepts(r, since)), cuda };
}

export function formatRanges(ranges: KernelRange[]): string {
  return ranges.map(([s, e]) => (e === null ? `${s}+` : s === e ? `${s}` : `${s}-${e}`)).join(', ') || 'none';
}
