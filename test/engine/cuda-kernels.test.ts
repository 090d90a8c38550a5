// The CUDA kernel check on synthetic tables (an op registered only for versions older than the one in effect must
// fail), then the assumption it rests on, checked on ORT's real table: within the versions the CUDA provider
// registers, its kernels skip no since_version of the op.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cudaCoverage, formatRanges, kernelAccepts, loadKernelTables, sinceVersions, versionInEffect, type KernelRange, type KernelTables } from './cuda-kernels.js';

function tables(cuda: Record<string, KernelRange[]>, cpu: Record<string, KernelRange[]>): KernelTables {
  return { commit: 'synthetic', kernels: { CUDAExecutionProvider: { 'ai.onnx': cuda }, CPUExecutionProvider: { 'ai.onnx': cpu } } };
}

test('ORT matching: an open range accepts its start only, a closed range every version in it', () => {
  assert.ok(kernelAccepts([13, null], 13));
  assert.ok(!kernelAccepts([13, null], 18));
  assert.ok(kernelAccepts([14, 18], 16));
  assert.ok(!kernelAccepts([14, 18], 19));
  assert.ok(!kernelAccepts([14, 18], 13));
});

test('the version in effect is the newest since_version at or below the opset', () => {
  assert.equal(versionInEffect([1, 11, 13, 18], 18), 18);
  assert.equal(versionInEffect([1, 11, 13, 18], 17), 13);
  assert.equal(versionInEffect([13, 18], 12), undefined);
});

test('a kernel for 13-17 does not cover opset 18 when the op changed at 18', () => {
  const t = tables({ ReduceMean: [[13, 17]] }, { ReduceMean: [[18, null], [13, 17], [1, 12]] });
  assert.deepEqual(cudaCoverage(t, 'ai.onnx', 'ReduceMean', 18), { since: 18, covered: false, cuda: [[13, 17]] });
  assert.ok(cudaCoverage(t, 'ai.onnx', 'ReduceMean', 17).covered);
});

test("a stale '13+' kernel does not cover an op that changed at 18; it does while the op has not", () => {
  const changed = tables({ Op: [[13, null]] }, { Op: [[18, null], [13, 17]] });
  assert.equal(cudaCoverage(changed, 'ai.onnx', 'Op', 18).covered, false);
  assert.equal(cudaCoverage(changed, 'ai.onnx', 'Op', 17).covered, true);
  const unchanged = tables({ Op: [[13, null]] }, { Op: [[13, null]] });
  assert.deepEqual(cudaCoverage(unchanged, 'ai.onnx', 'Op', 18), { since: 13, covered: true, cuda: [[13, null]] });
});

test('a gap in the CUDA ranges and an op unknown to both tables are not covered', () => {
  const gap = tables({ Op: [[13, null], [1, 10]] }, { Op: [[13, null], [11, 12], [1, 10]] });
  assert.deepEqual(cudaCoverage(gap, 'ai.onnx', 'Op', 12), { since: 11, covered: false, cuda: [[13, null], [1, 10]] });
  assert.equal(cudaCoverage(gap, 'ai.onnx', 'Other', 18).covered, false);
  assert.equal(cudaCoverage(gap, 'ai.onnx', 'Other', 18).since, undefined);
});

test("ORT's CUDA table skips no version of an op between its oldest and newest CUDA kernel", (t) => {
  const real = loadKernelTables();
  const skipped: string[] = [];
  const newerWithoutKernel: string[] = [];
  for (const [domain, ops] of Object.entries(real.kernels.CUDAExecutionProvider)) {
    assert.ok(Object.keys(ops).length > 0, `${domain} has CUDA kernels`);
    for (const [op, ranges] of Object.entries(ops)) {
      const starts = ranges.map(([s]) => s);
      const [first, last] = [Math.min(...starts), Math.max(...starts)];
      const uncovered = sinceVersions(real, domain, op).filter((v) => !ranges.some((r) => kernelAccepts(r, v)));
      const inside = uncovered.filter((v) => v > first && v < last);
      if (inside.length) skipped.push(`${domain}:${op} ${inside.join(', ')} (CUDA ${formatRanges(ranges)})`);
      const newer = uncovered.filter((v) => v > last);
      if (newer.length) newerWithoutKernel.push(`${op} ${newer.join(', ')}`);
    }
  }
  assert.deepEqual(skipped, []);
  // Not a failure: these versions fall back to the CPU at an opset that reaches them (dinotrain builds opset 18).
  t.diagnostic(`op versions newer than their CUDA kernels (commit ${real.commit.slice(0, 12)}): ${newerWithoutKernel.join('; ')}`);
});
