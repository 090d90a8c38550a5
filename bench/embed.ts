// Benchmark of `dinotrain embed`: images/s with decode included (the real pipeline, decode of the
// next batch overlapping inference), decode alone, and inference alone on pre-decoded batches.
// Optionally (--torch) PyTorch eager on the same architecture with the same weights (torchvision
// ResNet, or a timm-layout ViT written here), checked against ORT's output on one batch.
//
//   node --import tsx bench/embed.ts [--model FILE.onnx | --arch vit-tiny/16|resnet18 ...] [--image-size PX]
//        [--data DIR | --generate N] [--batch-size 64] [--threads N] [--runs 3] [--torch]
//
// With neither --model nor --arch it builds vit-tiny/16 at 96 px with seeded random weights through
// the same export code as `dinotrain export` (src/export/onnx.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { openBackbone, type Backbone } from '../src/embed/backbone.js';
import { embedFiles, preprocessSpec } from '../src/embed/embed-files.js';
import { configureSharp, loadImageInto } from '../src/embed/preprocess.js';
import { scanImageFolder } from '../src/data/scan.js';
import { defaultThreads } from '../src/engine/providers.js';
import { packageVersion } from '../src/util/version.js';
import { Rng } from '../src/util/rng.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    arch: { type: 'string' },
    'image-size': { type: 'string' },
    data: { type: 'string' },
    generate: { type: 'string', default: '256' },
    'batch-size': { type: 'string', default: '64' },
    threads: { type: 'string' },
    runs: { type: 'string', default: '3' },
    torch: { type: 'boolean', default: false },
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
  },
});

const batchSize = Number(args['batch-size']);
const threads = args.threads ? Number(args.threads) : defaultThreads();
const runs = Number(args.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A real backbone built and exported in-process with seeded random weights. */
async function buildArch(arch: string, imageSize: number): Promise<{ bytes: Uint8Array; weights: Map<string, { shape: readonly number[]; data: Float32Array }> }> {
  const { getModel } = await import('../src/models/registry.js');
  const { initParams } = await import('../src/models/params.js');
  const { backboneOnnx } = await import('../src/export/onnx.js');
  const model = getModel(arch, arch.startsWith('vit') ? { vit: { imgSize: imageSize } } : {});
  const spec = model.spec();
  const values = initParams(spec, new Rng(0));
  const weights = new Map(spec.filter((p) => model.isExportKey(p.name)).map((p) => [p.name, { shape: p.shape, data: values.get(p.name)! }]));
  const bytes = backboneOnnx(model, weights, { imageSize, method: 'bench', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  return { bytes, weights };
}

/** 500x375 JPEGs (the size of a typical photo dataset image) with smooth random content. */
async function generateImages(dir: string, n: number): Promise<void> {
  const rng = new Rng(1);
  const w = 500;
  const h = 375;
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(w * h * 3);
    const f = [rng.uniform(0.01, 0.1), rng.uniform(0.01, 0.1), rng.uniform(0, 6)];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        px[o] = 128 + 100 * Math.sin(x * f[0] + f[2]);
        px[o + 1] = 128 + 100 * Math.sin(y * f[1]);
        px[o + 2] = (x * y + i * 37) & 255;
      }
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, `img_${String(i).padStart(5, '0')}.jpg`));
  }
}

async function decodeAll(backbone: Backbone, root: string, files: string[]): Promise<number> {
  const spec = preprocessSpec(backbone, false);
  const pixels = 3 * spec.height * spec.width;
  const buf = new Float32Array(batchSize * pixels);
  const t0 = performance.now();
  for (let i = 0; i < files.length; i += batchSize) {
    const chunk = files.slice(i, i + batchSize);
    await Promise.all(chunk.map((f, j) => loadImageInto(join(root, f), spec, buf, j * pixels)));
  }
  return performance.now() - t0;
}

const TORCH_SCRIPT = String.raw`
import json, math, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg['threads'])
arch, size, bs, n = cfg['arch'], cfg['imageSize'], cfg['batchSize'], cfg['images']

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)

class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))

class Block(nn.Module):
    def __init__(self, dim, heads, eps):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.attn, self.mlp = Attention(dim, heads), Mlp(dim, 4 * dim)
    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class ViT(nn.Module):
    """timm VisionTransformer layout (class token, no registers, no LayerScale), embedding = normed class token."""
    def __init__(self, dim, depth, heads, patch, size, eps=1e-6):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.norm(self.blocks(x))[:, 0]

if arch.startswith('resnet'):
    import torchvision
    model = getattr(torchvision.models, arch)()
    model.fc = nn.Identity()
elif arch.startswith('vit-'):
    kind, patch = arch[4:].split('/')
    dim, depth, heads = {'tiny': (192, 12, 3), 'small': (384, 12, 6), 'base': (768, 12, 12), 'large': (1024, 24, 16)}[kind]
    model = ViT(dim, depth, heads, int(patch), size)
else:
    print(json.dumps({'skipped': 'no PyTorch equivalent for ' + arch})); sys.exit(0)
model.eval()

result = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
if cfg.get('weights'):
    index = json.load(open(cfg['weights'] + '.json'))
    raw = np.fromfile(cfg['weights'], dtype='<f4')
    state = {}
    for name, (off, shape) in index.items():
        t = torch.from_numpy(raw[off:off + math.prod(shape)].reshape(shape).copy())
        state[name] = t.long() if name.endswith('num_batches_tracked') else t
    missing, unexpected = model.load_state_dict(state, strict=False)
    result['missing'], result['unexpected'] = missing, unexpected
    x = torch.from_numpy(np.fromfile(cfg['batch'], dtype='<f4').reshape(-1, 3, size, size))
    ort = np.fromfile(cfg['ortOut'], dtype='<f4').reshape(x.shape[0], -1)
    with torch.inference_mode():
        ref = model(x).numpy()
    result['maxAbsDiffVsOrt'] = float(np.abs(ref - ort).max())
    result['maxAbsOrt'] = float(np.abs(ort).max())

x = torch.randn(bs, 3, size, size)
with torch.inference_mode():
    model(x)
    times = []
    for _ in range(cfg['runs']):
        t0 = time.perf_counter()
        done = 0
        while done < n:
            model(x[: min(bs, n - done)])
            done += bs
        times.append(time.perf_counter() - t0)
times.sort()
result['imagesPerSec'] = n / times[len(times) // 2]
print(json.dumps(result))
`;

async function main() {
  const t00 = performance.now();
  const tmp = await mkdtemp(join(os.tmpdir(), 'dinotrain-bench-embed-'));
  try {
    let model: Uint8Array | string;
    let arch: string | undefined;
    let weights: Awaited<ReturnType<typeof buildArch>>['weights'] | undefined;
    let imageSize = args['image-size'] ? Number(args['image-size']) : undefined;
    if (args.model) model = args.model;
    else {
      arch = args.arch ?? 'vit-tiny/16';
      imageSize ??= arch.startsWith('vit') ? 96 : 64;
      const built = await buildArch(arch, imageSize);
      model = built.bytes;
      weights = built.weights;
    }
    let dataDir = args.data;
    if (!dataDir) {
      dataDir = join(tmp, 'images');
      await mkdir(dataDir);
      await generateImages(dataDir, Number(args.generate));
    }
    const list = await scanImageFolder(dataDir);
    const files = Array.from({ length: list.length }, (_, i) => list.relativePath(i));
    const backbone = await openBackbone(model, { device: 'cpu', threads, overrides: args.model && imageSize ? { imageSize } : {} });
    const { info } = backbone;
    configureSharp();

    // Warm-up: one batch through the whole pipeline.
    await embedFiles(backbone, dataDir, files.slice(0, batchSize), { batchSize });

    const pipeline: number[] = [];
    let dim = 0;
    for (let r = 0; r < runs; r++) {
      const e = await embedFiles(backbone, dataDir, files, { batchSize });
      pipeline.push(e.timing.totalMs);
      dim = e.dim;
    }
    const decode: number[] = [];
    for (let r = 0; r < runs; r++) decode.push(await decodeAll(backbone, dataDir, files));

    // Inference alone: one decoded batch, run as many times as the folder has batches.
    const spec = preprocessSpec(backbone, false);
    const pixels = 3 * spec.height * spec.width;
    const batch = new Float32Array(batchSize * pixels);
    const first = files.slice(0, batchSize);
    await Promise.all(first.map((f, j) => loadImageInto(join(dataDir!, f), spec, batch, j * pixels)));
    const infer: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      for (let done = 0; done < files.length; done += batchSize) await backbone.embed(batch, Math.min(batchSize, files.length - done));
      infer.push(performance.now() - t0);
    }
    const ortOut = await backbone.embed(batch, first.length);
    await backbone.release();

    const ips = (ms: number) => (files.length / (ms / 1000)).toFixed(1);
    const cpu = os.cpus();
    console.log(`command: node --import tsx ${process.argv.slice(1).join(' ')}`);
    console.log(`machine: ${cpu[0]?.model ?? 'unknown cpu'}, ${cpu.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}/${process.arch}`);
    console.log(`runtime: node ${process.versions.node}, onnxruntime-node ${packageVersion('onnxruntime-node')}, sharp ${packageVersion('sharp')}, ORT intra-op threads ${threads}, libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 4}`);
    console.log(`model: ${args.model ?? `${arch} (built in-process, seeded random weights)`}, ${info.height}x${info.width}, dim ${dim}, batch ${batchSize}`);
    console.log(`images: ${files.length} from ${args.data ?? `${args.generate} generated 500x375 JPEGs`}; median of ${runs} runs`);
    console.log(`embed, decode included (pipeline): ${ips(median(pipeline))} images/s`);
    console.log(`decode + resize + normalise alone:  ${ips(median(decode))} images/s`);
    console.log(`inference alone (decode excluded):  ${ips(median(infer))} images/s`);

    if (args.torch) {
      const hasTorch = spawnSync(args.python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
      if (!hasTorch) console.log(`pytorch eager: skipped (${args.python} has no torch)`);
      else if (!arch) console.log('pytorch eager: skipped (no PyTorch equivalent for a model given by --model; use --arch)');
      else {
        const cfg: Record<string, unknown> = { arch, imageSize, batchSize, images: files.length, threads, runs };
        if (weights) {
          const index: Record<string, [number, readonly number[]]> = {};
          let offset = 0;
          const parts: Buffer[] = [];
          for (const [name, t] of weights) {
            index[name] = [offset, t.shape];
            offset += t.data.length;
            parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
          }
          await writeFile(join(tmp, 'weights.bin'), Buffer.concat(parts));
          await writeFile(join(tmp, 'weights.bin.json'), JSON.stringify(index));
          await writeFile(join(tmp, 'batch.bin'), Buffer.from(batch.buffer, 0, first.length * pixels * 4));
          await writeFile(join(tmp, 'ort.bin'), Buffer.from(ortOut.data.buffer, ortOut.data.byteOffset, ortOut.data.byteLength));
          Object.assign(cfg, { weights: join(tmp, 'weights.bin'), batch: join(tmp, 'batch.bin'), ortOut: join(tmp, 'ort.bin') });
        }
        await writeFile(join(tmp, 'torch_bench.py'), TORCH_SCRIPT);
        const out = execFileSync(args.python, [join(tmp, 'torch_bench.py'), JSON.stringify(cfg)], { encoding: 'utf8', maxBuffer: 1 << 24 });
        const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
        if (r.skipped) console.log(`pytorch eager: skipped (${r.skipped})`);
        else {
          const check = r.maxAbsDiffVsOrt !== undefined ? `; same weights, max |torch - ort| = ${(r.maxAbsDiffVsOrt as number).toExponential(2)} (max |ort| ${(r.maxAbsOrt as number).toFixed(2)})` : '';
          const missing = (r.missing as string[] | undefined)?.length ? `; missing in load: ${(r.missing as string[]).join(', ')}` : '';
          console.log(`pytorch ${r.torch} eager, ${r.threads} threads, inference alone: ${(r.imagesPerSec as number).toFixed(1)} images/s${check}${missing}`);
        }
      }
    }
    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (node process); wall ${((performance.now() - t00) / 1000).toFixed(1)} s`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
