// The GPU path by construction: every node of every training and teacher graph that the three methods build (ResNet
// and ViT, with the fast paths of training graphs: fused Gelu, FusedMatMul, convs as Gather + Gemm, fused BatchNorm)
// has a kernel in ONNX Runtime's CUDA execution provider for the op version the graph's opset puts in effect, so
// `--device cuda` places nothing on the CPU for lack of a kernel. The kernel tables (test/fixtures/ort-cuda-ops.json)
// come from onnxruntime's docs/OperatorKernels.md at the commit they name; the matching rule is ORT's
// (test/engine/cuda-kernels.ts). No GPU is needed: the graphs are read, not run.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { resolvePretrainConfig } from '../../src/config/load.js';
import { buildMethod } from '../helpers/methods.js';
import { cudaCoverage, formatRanges, loadKernelTables } from './cuda-kernels.js';

const tables = loadKernelTables();

const runs = [
  { method: 'dino', model: 'vit-tiny/16', model_args: { embed_dim: 32, depth: 2, num_heads: 2 }, method_args: { output_dim: 64 } },
  { method: 'dinov2', model: 'vit-tiny/16', model_args: { embed_dim: 32, depth: 2, num_heads: 2 }, method_args: { output_dim: 64 } },
  { method: 'simclr', model: 'resnet18', model_args: { width: 16 } },
] as const;

/** domain:op@opset of every node of every graph the method hands to ONNX Runtime. */
async function graphOps(run: (typeof runs)[number]): Promise<Map<string, { domain: string; op: string; opset: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'dt-cuda-ops-'));
  process.env.DINOTRAIN_SAVE_MODELS = dir;
  try {
    const cfg = resolvePretrainConfig({ ...run, transforms: { global: { size: 32 }, local: { size: 16 } } }, { data: 'unused', out: 'unused', threads: 1 });
    const m = await buildMethod(cfg, { images: 37 });
    await m.release();
    const files = readdirSync(dir);
    assert.ok(files.length >= 1, 'graphs were built');
    const seen = new Map<string, { domain: string; op: string; opset: number }>();
    for (const f of files) {
      const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, f)));
      const opsets = new Map(model.opsetImport!.map((o) => [o.domain || 'ai.onnx', Number(o.version)]));
      for (const n of model.graph!.node!) {
        // Constant nodes become initializers when ORT loads the graph: no kernel runs them
        if (n.opType === 'Constant') continue;
        const domain = n.domain || 'ai.onnx';
        const opset = opsets.get(domain);
        assert.ok(opset !== undefined, `${f}: ${domain}:${n.opType} has no opset_import for its domain`);
        seen.set(`${domain}:${n.opType}@${opset}`, { domain, op: n.opType!, opset });
      }
    }
    return seen;
  } finally {
    delete process.env.DINOTRAIN_SAVE_MODELS;
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const run of runs) {
  test(`${run.method} (${run.model}): every graph op has a CUDA kernel for its version`, async () => {
    const ops = await graphOps(run);
    const missing = [...ops.values()].flatMap(({ domain, op, opset }) => {
      const c = cudaCoverage(tables, domain, op, opset);
      if (c.covered) return [];
      const version = c.since === undefined ? 'no known version' : `version ${c.since}`;
      return [`${domain}:${op} at opset ${opset} (${version}; CUDA kernels: ${formatRanges(c.cuda)})`];
    });
    assert.deepEqual(missing, [], `ops without a CUDA kernel: ${missing.join(', ')}`);
    const keys = [...ops.keys()].map((k) => k.split('@')[0]);
    if (run.method === 'simclr') assert.ok(keys.includes('ai.onnx:Gather') && keys.includes('ai.onnx:Gemm'), 'convs as columns + Gemm are covered');
    else assert.ok(keys.includes('com.microsoft:FusedMatMul') && keys.includes('com.microsoft:Gelu'), 'contrib ops are covered');
  });
}
