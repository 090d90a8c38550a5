// DINOv2's loss parts as graphs, against PyTorch references computed the way dinov2 computes them
// (fixtures/dinov2/make_ibot.py, make_koleo.py, make_sinkhorn.py): iBOT's masked-patch loss and its teacher targets,
// KoLeo, Sinkhorn-Knopp (class tokens and masked patches), and DINO's loss on Sinkhorn-Knopp targets; gradients
// against torch autograd.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Graph, Session, type Feed, type Tensor } from '../../src/graph/index.js';
import { maskedPatches } from '../../src/methods/dinov2/masked-patches.js';
import { dinoLoss } from '../../src/methods/dino/loss.js';
import { ibotLoss, ibotTeacherTargets } from '../../src/methods/dinov2/ibot-loss.js';
import { koleoLoss } from '../../src/methods/dinov2/koleo-loss.js';
import { sinkhornKnopp } from '../../src/methods/dinov2/sinkhorn-knopp.js';

interface Arr { shape: number[]; data: number[] }
const load = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/dinov2/${name}`, import.meta.url), 'utf8'));
const f32 = (a: Arr): Feed => ({ data: Float32Array.from(a.data), dims: a.shape });

function maxErr(got: ArrayLike<number>, want: ArrayLike<number>): { abs: number; rel: number } {
  assert.equal(got.length, want.length, 'length');
  let abs = 0, scale = 0;
  for (let i = 0; i < got.length; i++) {
    assert.ok(Number.isFinite(got[i]), `non-finite value at ${i}`);
    abs = Math.max(abs, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { abs, rel: abs / Math.max(scale, 1e-30) };
}
function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5) {
  const e = maxErr(got, want);
  assert.ok(e.rel < tol, `${what}: max|diff| ${e.abs.toExponential(2)}, relative ${e.rel.toExponential(2)}`);
}
const scalarClose = (got: number, want: number, what: string, tol = 1e-5) =>
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);

async function run(g: Graph, outputs: Record<string, Tensor>, feeds: Record<string, Feed>) {
  const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
  const out = await s.run(feeds);
  await s.release();
  return out;
}

/** The graph the method builds for iBOT: gather the masked rows of the student's patch logits, weighted loss. */
function ibotGraph(images: number, patches: number, K: number, studentTemp: number) {
  const g = new Graph();
  const student = g.param('student', [images, patches, K]);
  const index = g.input('mask_index', ['M'], 'int64');
  const weight = g.input('mask_weight', ['M']);
  const probs = g.input('teacher_probs', ['M', K]);
  const loss = ibotLoss(g, g.gather(g.reshape(student, [-1, K]), index, 0), probs, weight, g.scalar(images), studentTemp);
  const [grad] = g.grad(loss, [student]);
  return { g, outputs: { loss, grad } };
}

const maskFeeds = (mp: ReturnType<typeof maskedPatches>): Record<string, Feed> => ({
  mask_index: { data: mp.index, dims: [mp.index.length] },
  mask_weight: { data: mp.weight, dims: [mp.weight.length] },
});

for (const c of load('ibot.json').cases) {
  test(`iBOT masked-patch loss and gradient match dinov2's forward_masked: ${c.name}`, async () => {
    const mp = maskedPatches(Uint8Array.from(c.masks), c.images, c.patches);
    assert.equal(mp.count, c.masks.filter((m: number) => m).length);
    const { g, outputs } = ibotGraph(c.images, c.patches, c.prototypes, c.student_temp);
    const out = await run(g, outputs, { student: f32(c.student), teacher_probs: f32(c.teacher_probs), ...maskFeeds(mp) });
    scalarClose((out.loss.data as Float32Array)[0], c.loss, 'loss');
    close(out.grad.data as Float32Array, c.grad_student.data, 'd loss / d student logits');
  });

  test(`iBOT teacher targets (softmax centering) and patch center mean: ${c.name}`, async () => {
    const mp = maskedPatches(Uint8Array.from(c.masks), c.images, c.patches);
    const K = c.prototypes;
    const g = new Graph();
    const logits = g.input('teacher_logits', [c.images, c.patches, K]);
    const index = g.input('mask_index', ['M'], 'int64');
    const valid = g.cast(g.greater(g.input('mask_weight', ['M']), 0), 'float');
    const t = ibotTeacherTargets(g, g.gather(g.reshape(logits, [-1, K]), index, 0), g.input('center', [1, K]), g.input('temp', []), valid);
    const out = await run(g, { probs: t.probs, batch_center: t.batchCenter }, {
      teacher_logits: f32(c.teacher_logits), center: f32(c.center), temp: { data: Float32Array.of(c.teacher_temp), dims: [] }, ...maskFeeds(mp),
    });
    close(out.probs.data as Float32Array, c.teacher_probs.data, 'teacher probabilities');
    close(out.batch_center.data as Float32Array, c.batch_center.data, 'batch center');
  });
}

test('iBOT with no masked patch at all: the padding row gives loss 0 and zero gradients, no NaN', async () => {
  const images = 3, patches = 4, K = 5;
  const mp = maskedPatches(new Uint8Array(images * patches), images, patches);
  assert.equal(mp.count, 0);
  assert.deepEqual([...mp.index], [0n]);
  assert.deepEqual([...mp.weight], [0]);
  const { g, outputs } = ibotGraph(images, patches, K, 0.1);
  const student = { data: Float32Array.from({ length: images * patches * K }, (_, i) => Math.sin(i)), dims: [images, patches, K] };
  const out = await run(g, outputs, { student, teacher_probs: { data: new Float32Array(K).fill(1 / K), dims: [1, K] }, ...maskFeeds(mp) });
  assert.equal((out.loss.data as Float32Array)[0], 0);
  for (const v of out.grad.data as Float32Array) assert.equal(Math.abs(v), 0);
});

test('maskedPatches: image-major indices and 1/(masked patches of the image) weights', () => {
  const mp = maskedPatches(Uint8Array.from([0, 1, 1, 0, 0, 0, 1, 0, 0]), 3, 3);
  assert.deepEqual([...mp.index], [1n, 2n, 6n]);
  assert.deepEqual([...mp.weight], [0.5, 0.5, 1]);
  assert.equal(mp.count, 3);
  assert.deepEqual([...mp.dense], [0, 1, 1, 0, 0, 0, 1, 0, 0]);
});

for (const c of load('koleo.json').cases) {
  test(`KoLeo per crop and its gradient match dinov2's KoLeoLoss: ${c.name}`, async () => {
    const g = new Graph();
    const x = g.param('x', c.features.shape);
    const perCrop = koleoLoss(g, x);
    const loss = g.reduceSum(perCrop, undefined, false);
    const [grad] = g.grad(loss, [x]);
    const out = await run(g, { perCrop, loss, grad }, { x: f32(c.features) });
    close(out.perCrop.data as Float32Array, c.per_crop, 'per-crop loss');
    scalarClose((out.loss.data as Float32Array)[0], c.loss, 'loss');
    close(out.grad.data as Float32Array, c.grad.data, 'd loss / d features', 1e-4);
  });
}

test('KoLeo with a symbolic batch: one graph serves any N', async () => {
  const c = load('koleo.json').cases[0];
  const [C, N, D] = c.features.shape;
  const g = new Graph();
  const perCrop = koleoLoss(g, g.input('x', [C, 'N', D]));
  const out = await run(g, { perCrop }, { x: f32(c.features) });
  close(out.perCrop.data as Float32Array, c.per_crop, `per-crop loss with N=${N}`);
});

const sk = load('sinkhorn.json');
for (const c of sk.sinkhorn) {
  test(`Sinkhorn-Knopp matches dinov2's sinkhorn_knopp_teacher: ${c.name}`, async () => {
    const [B, K] = c.logits.shape;
    const g = new Graph();
    const logits = g.input('logits', ['B', K]);
    const valid = c.valid ? g.input('valid', ['B']) : undefined;
    const probs = sinkhornKnopp(g, logits, g.input('temp', []), { valid });
    const feeds: Record<string, Feed> = { logits: f32(c.logits), temp: { data: Float32Array.of(c.tau), dims: [] } };
    if (c.valid) feeds.valid = { data: Float32Array.from(c.valid), dims: [B] };
    const out = await run(g, { probs }, feeds);
    const got = out.probs.data as Float32Array;
    close(got, c.probs.data, 'assignments', 2e-5);
    // every valid row is a distribution; rows left out are exactly zero
    for (let b = 0; b < B; b++) {
      const sum = got.slice(b * K, (b + 1) * K).reduce((s, v) => s + v, 0);
      if (!c.valid || c.valid[b]) assert.ok(Math.abs(sum - 1) < 1e-5, `row ${b} sums to ${sum}`);
      else assert.equal(sum, 0);
    }
  });
}

test('Sinkhorn-Knopp with no valid row returns zeros, not NaN', async () => {
  const g = new Graph();
  const probs = sinkhornKnopp(g, g.input('logits', [3, 4]), 0.05, { valid: g.input('valid', [3]) });
  const out = await run(g, { probs }, { logits: { data: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i)), dims: [3, 4] }, valid: { data: new Float32Array(3), dims: [3] } });
  for (const v of out.probs.data as Float32Array) assert.equal(v, 0);
});

for (const c of sk.dino_sk) {
  test(`DINO loss on Sinkhorn-Knopp targets matches dinov2's SSLMetaArch terms, with gradients: ${c.name}`, async () => {
    const { n, local_crops: L, prototypes: K } = c;
    const g = new Graph();
    const teacher = g.input('teacher', [2 * n, K]);
    const sGlobal = g.param('s_global', [2 * n, K]);
    const sLocal = g.param('s_local', [L * n, K]);
    const probs = sinkhornKnopp(g, teacher, c.teacher_temp);
    const parts = dinoLoss(g, sGlobal, sLocal, probs, 2, L, c.student_temp);
    const [gg, gl] = g.grad(parts.loss, [sGlobal, sLocal]);
    const out = await run(g, { probs, global: parts.global, local: parts.local!, gg, gl }, {
      teacher: f32(c.teacher_logits), s_global: f32(c.student_global), s_local: f32(c.student_local),
    });
    close(out.probs.data as Float32Array, c.teacher_probs.data, 'teacher targets', 2e-5);
    scalarClose((out.global.data as Float32Array)[0], c.dino_global, 'dino_global');
    scalarClose((out.local.data as Float32Array)[0], c.dino_local, 'dino_local');
    close(out.gg.data as Float32Array, c.grad_global.data, 'd loss / d student global logits');
    close(out.gl.data as Float32Array, c.grad_local.data, 'd loss / d student local logits');
  });
}
