// The GPU path by construction: every operator in every training and teacher graph that the three methods build
// (ResNet and ViT, with the fast paths of training graphs: fused Gelu, FusedMatMul, convs as Gather + Gemm, fused
// BatchNorm) has a kernel in ONNX Runtime's CUDA execution provider, so `--device cuda` places nothing on the CPU
// for lack of a kernel. The list (test/fixtures/ort-cuda-ops.json) is the CUDA section of onnxruntime's
// docs/OperatorKernels.md at the commit it names. No GPU is needed: the graphs are read, not run.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import onnxProto from 'onnx-proto';
import { resolvePretrainConfig } from '../../src/config/load.js';
import { buildMethod } from '../helpers/methods.js';

const cuda = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/ort-cuda-ops.json'), 'utf8')) as { ops: Record<string, string[]> };

const runs = [
  { method: 'dino', model: 'vit-tiny/16', model_args: { embed_dim: 32, depth: 2, num_heads: 2 }, method_args: { output_dim: 64 } },
  { method: 'dinov2', model: 'vit-tiny/16', model_args: { embed_dim: 32, depth: 2, num_heads: 2 }, method_args: { output_dim: 64 } },
  { method: 'simclr', model: 'resnet18', model_args: { width: 16 } },
] as const;

for (const run of runs) {
  test(`${run.method} (${run.model}): every graph op has a CUDA kernel`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dt-cuda-ops-'));
    process.env.DINOTRAIN_SAVE_MODELS = dir;
    try {
      const cfg = resolvePretrainConfig(
        { ...run, transforms: { global: { size: 32 }, local: { size: 16 } } },
        { data: 'unused', out: 'unused', threads: 1 },
      );
      const m = await buildMethod(cfg, { images: 37 });
      await m.release();
      const files = readdirSync(dir);
      assert.ok(files.length >= 1, 'graphs were built');
      const seen = new Set<string>();
      for (const f of files) {
        const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(dir, f)));
        // Constant nodes become initializers when ORT loads the graph: no kernel runs them
        for (const n of model.graph!.node!) if (n.opType !== 'Constant') seen.add(`${n.domain || 'ai.onnx'}:${n.opType}`);
      }
      const missing = [...seen].filter((k) => {
        const [domain, op] = k.split(':');
        return !cuda.ops[domain]?.includes(op);
      });
      assert.deepEqual(missing, [], `ops without a CUDA kernel: ${missing.join(', ')}`);
      if (run.method === 'simclr') assert.ok(seen.has('ai.onnx:Gather') && seen.has('ai.onnx:Gemm'), 'convs as columns + Gemm are covered');
      else assert.ok(seen.has('com.microsoft:FusedMatMul') && seen.has('com.microsoft:Gelu'), 'contrib ops are covered');
    } finally {
      delete process.env.DINOTRAIN_SAVE_MODELS;
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
