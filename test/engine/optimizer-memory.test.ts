// No allocation per step: heap, array buffers and RSS stay flat over AdamW steps (+ EMA, clipping) on 5M parameters.
// 100 steps by default to keep the suite fast (a 5M step is ~50 ms idle, several times that on a busy CI runner);
// OPTIM_MEMORY_STEPS=1000 runs the long version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW } from '../../src/engine/adamw.js';
import { clipGlobalNorm } from '../../src/engine/clip.js';
import { emaUpdate } from '../../src/engine/ema.js';
import { ParamStore } from '../../src/engine/param-store.js';
import { Rng } from '../../src/util/rng.js';

const PARAMS = 5_000_000;
const STEPS = Number(process.env.OPTIM_MEMORY_STEPS ?? 100);

test(`heap and RSS stay flat over ${STEPS} AdamW steps on ${PARAMS / 1e6}M parameters`, (t) => {
  // a ViT-like mix of large matrices and small bias/norm vectors
  const specs = [];
  for (let left = PARAMS, i = 0; left > 0; i++) {
    const n = Math.min(left, i % 3 === 2 ? 192 : 49_152);
    specs.push({ name: `p${i}`, shape: [n], weightDecay: i % 3 !== 2, lrScale: i < 3 ? 0.2 : 1 });
    left -= n;
  }
  const store = new ParamStore(specs);
  const rng = new Rng(5);
  for (let i = 0; i < store.size; i += 3) store.flat[i] = rng.uniform(-0.1, 0.1);
  const teacher = store.clone();
  const grads = store.createGradients();
  for (let i = 0; i < grads.flat.length; i += 5) grads.flat[i] = rng.uniform(-1e-2, 1e-2);
  const opt = new AdamW(store, { lr: 1e-3, weightDecay: 0.04 });

  const step = (s: number) => {
    opt.lr = 1e-3 * (1 - s / STEPS);
    opt.weightDecay = 0.04 + 0.36 * (s / STEPS);
    clipGlobalNorm(grads.flat, 3);
    opt.step(grads.flat);
    emaUpdate(teacher.flat, store.flat, 0.996);
  };
  for (let s = 0; s < 10; s++) step(s); // warm up (JIT)
  const before = process.memoryUsage();
  const t0 = performance.now();
  for (let s = 10; s < STEPS; s++) step(s);
  const ms = (performance.now() - t0) / (STEPS - 10);
  const afterUsage = process.memoryUsage();
  const heapGrowth = afterUsage.heapUsed - before.heapUsed;
  const rssGrowth = afterUsage.rss - before.rss;
  const external = afterUsage.arrayBuffers - before.arrayBuffers;
  t.diagnostic(`${ms.toFixed(1)} ms per clip+AdamW+EMA step; heap ${heapGrowth} B, arrayBuffers ${external} B, rss ${rssGrowth} B`);
  // any typed array allocated per step shows in arrayBuffers; a model-sized one would add 20 MB per step
  assert.ok(heapGrowth < 1 << 20, `heap grew by ${heapGrowth} bytes`);
  // a few hundred bytes come and go with Node's own small buffers; one per-step typed array would be megabytes
  assert.ok(external < 64 << 10, `array buffers grew by ${external} bytes`);
  assert.ok(rssGrowth < 16 << 20, `RSS grew by ${rssGrowth} bytes`);
  assert.ok(store.flat.every(Number.isFinite), 'parameters stay finite');
  assert.equal(opt.steps[0], STEPS);
});
