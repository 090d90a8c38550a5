// The WebAssembly SIMD AdamW, SGD/LARS and EMA kernels against the plain JS loops: same parameters and moments (float rounding), on
// tensors whose sizes and offsets are not multiples of 4, with lr scales, decay flags, a frozen tensor and
// gradients small enough to exercise the flush-to-zero of the moments.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW } from '../../src/engine/adamw.js';
import { clipGlobalNorm, globalNormClip } from '../../src/engine/clip.js';
import { emaUpdate } from '../../src/engine/ema.js';
import { SGD } from '../../src/engine/sgd.js';
import { numelOfAll, type TrainableTensor as ParamSpec, ParamStore } from '../../src/engine/param-store.js';
import { kernelsHolding, SimdArena } from '../../src/engine/simd.js';
import { Rng } from '../../src/util/rng.js';

const specs: ParamSpec[] = [
  { name: 'a', shape: [3], weightDecay: false },
  { name: 'b', shape: [7, 5], weightDecay: true, lrScale: 0.5 },
  { name: 'c', shape: [1], weightDecay: false },
  { name: 'd', shape: [33, 9], weightDecay: true },
  { name: 'e', shape: [2, 2, 2], weightDecay: true, lrScale: 0.2 },
];

/** The kernels run in place on a training run's memory (a SimdArena); plain arrays take the JS loops. */
const storeFor = (simd: boolean) => new ParamStore(specs, undefined, undefined, simd ? SimdArena.create(5 * numelOfAll(specs) + 64) : null);

function run(simd: boolean) {
  const rng = new Rng(11);
  const store = storeFor(simd);
  for (let i = 0; i < store.flat.length; i++) store.flat[i] = rng.normal();
  const opt = new AdamW(store, { lr: 0.01, weightDecay: 0.05, simd });
  const grads = store.createGradients();
  for (let t = 0; t < 7; t++) {
    for (let i = 0; i < grads.flat.length; i++) grads.flat[i] = rng.normal() * (i % 5 === 0 ? 1e-17 : 0.1);
    opt.setFrozen('c', t < 3);
    opt.lr = 0.01 * (1 - t / 10);
    opt.step(grads.flat);
  }
  return { opt, store };
}

/** max|a − b| / max|b| over the buffer (float32 rounding of cancelling terms makes per-element ratios meaningless) */
function maxRel(a: Float32Array, b: Float32Array): number {
  let md = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    md = Math.max(md, Math.abs(a[i] - b[i]));
    mb = Math.max(mb, Math.abs(b[i]));
  }
  return md / mb;
}

test('AdamW: the SIMD kernel and the JS loop give the same parameters and moments', () => {
  const fast = run(true);
  const plain = run(false);
  assert.ok(fast.opt.usesSimd, 'WebAssembly SIMD is available in this Node');
  assert.ok(!plain.opt.usesSimd);
  assert.ok(maxRel(fast.store.flat, plain.store.flat) < 1e-6, `params ${maxRel(fast.store.flat, plain.store.flat)}`);
  assert.ok(maxRel(fast.opt.m.flat, plain.opt.m.flat) < 2e-6, `m ${maxRel(fast.opt.m.flat, plain.opt.m.flat)}`);
  assert.ok(maxRel(fast.opt.v.flat, plain.opt.v.flat) < 2e-6, `v ${maxRel(fast.opt.v.flat, plain.opt.v.flat)}`);
  // flushed moments are exactly zero in both (tiny gradients on every fifth element)
  const zeros = (a: Float32Array) => a.reduce((n, x) => n + (x === 0 ? 1 : 0), 0);
  assert.equal(zeros(fast.opt.v.flat), zeros(plain.opt.v.flat));
  assert.ok(zeros(fast.opt.v.flat) > 0);
  assert.deepEqual([...fast.opt.steps], [...plain.opt.steps]);
});

test('AdamW SIMD: optimizer state round-trips through exportState/importState', () => {
  const a = run(true);
  const b = new AdamW(new ParamStore(specs, undefined, Float32Array.from(a.store.flat)), { lr: 0.01, weightDecay: 0.05 });
  b.importState(a.opt.exportState());
  assert.deepEqual(b.m.flat, a.opt.m.flat);
  assert.deepEqual(b.v.flat, a.opt.v.flat);
});

for (const lars of [false, true]) {
  test(`${lars ? 'LARS' : 'SGD'}: the SIMD kernel and the JS loop give the same parameters and momentum`, () => {
    const runSgd = (simd: boolean) => {
      const rng = new Rng(12);
      const store = storeFor(simd);
      for (let i = 0; i < store.flat.length; i++) store.flat[i] = rng.normal();
      const opt = new SGD(store, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, lars, simd });
      const grads = store.createGradients();
      for (let t = 0; t < 7; t++) {
        for (let i = 0; i < grads.flat.length; i++) grads.flat[i] = rng.normal() * 0.1;
        opt.setFrozen('c', t < 3);
        opt.lr = 0.1 * (1 - t / 10);
        opt.step(grads.flat);
      }
      return { opt, store };
    };
    const fast = runSgd(true), plain = runSgd(false);
    assert.ok(fast.opt.usesSimd && !plain.opt.usesSimd);
    assert.ok(maxRel(fast.store.flat, plain.store.flat) < 1e-6, `params ${maxRel(fast.store.flat, plain.store.flat)}`);
    assert.ok(maxRel(fast.opt.buf.flat, plain.opt.buf.flat) < 2e-6, `momentum ${maxRel(fast.opt.buf.flat, plain.opt.buf.flat)}`);
    assert.ok(fast.opt.buf.flat.some((x) => Math.abs(x) > 0.01), 'momentum moved');
    assert.deepEqual([...fast.opt.steps], [...plain.opt.steps]);
  });
}

test('EMA: the SIMD kernel and the JS loop give the same teacher (odd length, changing momentum)', () => {
  const rng = new Rng(5);
  const n = 1003;
  const t0 = Float32Array.from({ length: n }, () => rng.normal());
  const arena = SimdArena.create(4 * n)!;
  const fast = arena.alloc(n)!, plain = Float32Array.from(t0);
  fast.set(t0);
  const studentInArena = arena.alloc(n)!;
  for (let step = 0; step < 5; step++) {
    const student = Float32Array.from({ length: n }, () => rng.normal());
    studentInArena.set(student);
    const m = 0.99 + 0.002 * step;
    assert.ok(kernelsHolding(fast, studentInArena));
    emaUpdate(fast, studentInArena, m, true);
    emaUpdate(plain, student, m, false);
  }
  assert.ok(maxRel(fast, plain) < 1e-6, `teacher ${maxRel(fast, plain)}`);
  assert.notDeepEqual(fast, t0);
});

test('clip: the unrolled norm equals a plain float64 sum (odd length), and scaling follows torch\'s rule', () => {
  const rng = new Rng(3);
  const g = Float32Array.from({ length: 100_003 }, () => rng.normal());
  let plain = 0;
  for (const x of g) plain += x * x;
  const copy = Float32Array.from(g);
  const norm = clipGlobalNorm(copy, 1);
  assert.ok(Math.abs(norm - Math.sqrt(plain)) / Math.sqrt(plain) < 1e-12, `${norm} vs ${Math.sqrt(plain)}`);
  const coef = 1 / (norm + 1e-6);
  assert.ok(copy.every((x, i) => Math.abs(x - Math.fround(g[i] * coef)) <= 1e-7 * Math.abs(g[i])));
});

// torch scales the gradients by a float32 clip coefficient in float32 (grad.mul_(clip_coef)): so does the step
test('clip folded into the step: step(g, coef) = g scaled in float32 then step(g), bit for bit (AdamW, SGD, LARS; SIMD and JS)', () => {
  const make = (kind: 'adamw' | 'sgd' | 'lars', simd: boolean) => {
    const rng = new Rng(21);
    const store = storeFor(simd);
    for (let i = 0; i < store.flat.length; i++) store.flat[i] = rng.normal();
    const opt = kind === 'adamw' ? new AdamW(store, { lr: 0.01, weightDecay: 0.05, simd }) : new SGD(store, { lr: 0.1, weightDecay: 5e-4, lars: kind === 'lars', simd });
    return { store, opt };
  };
  for (const kind of ['adamw', 'sgd', 'lars'] as const) {
    for (const simd of [true, false]) {
      const folded = make(kind, simd), scaled = make(kind, simd);
      const rng = new Rng(22);
      const g = new Float32Array(folded.store.flat.length);
      for (let t = 0; t < 4; t++) {
        for (let i = 0; i < g.length; i++) g[i] = rng.normal();
        const { coef } = globalNormClip(g, 1.5);
        assert.ok(coef < 1);
        const c32 = Math.fround(coef);
        const copy = g.map((x) => Math.fround(x * c32));
        folded.opt.step(g, coef);
        scaled.opt.step(copy);
      }
      assert.deepEqual(folded.store.flat, scaled.store.flat, `${kind} simd=${simd}`);
    }
  }
});

// A training run's parameters, teacher, gradients and optimizer state share one SIMD kernel memory (SimdArena) so
// the kernels run in place, with no copies in or out.
test('arena: AdamW, SGD, LARS and the EMA run in place on buffers that all live in the arena, as the JS reference', () => {
  const steps = (store: ParamStore, kind: 'adamw' | 'sgd' | 'lars') => {
    const rng = new Rng(31);
    for (let i = 0; i < store.flat.length; i++) store.flat[i] = rng.normal();
    const teacher = store.clone();
    const opt = kind === 'adamw' ? new AdamW(store, { lr: 0.01, weightDecay: 0.05 }) : new SGD(store, { lr: 0.1, weightDecay: 5e-4, lars: kind === 'lars' });
    const grads = store.createGradients();
    for (let t = 0; t < 5; t++) {
      for (let i = 0; i < grads.flat.length; i++) grads.flat[i] = rng.normal() * (i % 5 === 0 ? 1e-17 : 0.1);
      opt.setFrozen('c', t < 2);
      opt.step(grads.flat, 0.75);
      emaUpdate(teacher.flat, store.flat, 0.99);
    }
    return { store, teacher, grads, opt };
  };
  for (const kind of ['adamw', 'sgd', 'lars'] as const) {
    const inArena = steps(storeFor(true), kind);
    const plain = steps(storeFor(false), kind);
    const memory = inArena.store.flat.buffer;
    for (const a of [inArena.teacher.flat, inArena.grads.flat, ...(inArena.opt instanceof AdamW ? [inArena.opt.m.flat, inArena.opt.v.flat] : [inArena.opt.buf.flat])]) {
      assert.equal(a.buffer, memory, `${kind}: every buffer of the run lives in the arena`);
    }
    assert.ok(kernelsHolding(inArena.store.flat, inArena.grads.flat) && !kernelsHolding(plain.store.flat));
    assert.ok(inArena.opt.usesSimd && !plain.opt.usesSimd);
    assert.ok(maxRel(inArena.store.flat, plain.store.flat) < 1e-6, `${kind} params`);
    assert.ok(maxRel(inArena.teacher.flat, plain.teacher.flat) < 1e-6, `${kind} teacher`);
  }
});

test('arena: a full arena falls back to ordinary buffers, and the step still runs', () => {
  const big: ParamSpec[] = [{ name: 'w', shape: [100, 100], weightDecay: true }];
  const arena = SimdArena.create(numelOfAll(big))!; // one 64 KiB page: room for the parameters only
  const store = new ParamStore(big, undefined, undefined, arena);
  assert.ok(store.flat.buffer === arena.kernels.memory.buffer);
  const grads = store.createGradients();
  assert.ok(grads.flat.buffer !== arena.kernels.memory.buffer, 'no room left: gradients elsewhere');
  const opt = new AdamW(store, { lr: 0.01, weightDecay: 0 });
  grads.flat.fill(0.5);
  const before = Float32Array.from(store.flat);
  opt.step(grads.flat);
  assert.ok(store.flat.every((x, i) => x < before[i]), 'a positive gradient lowers every parameter');
});

test('clip: the arena\'s SIMD sum of squares gives the JS loop\'s norm (odd lengths, sub-ranges)', () => {
  const rng = new Rng(41);
  const arena = SimdArena.create(300_000)!;
  for (const n of [1, 3, 8, 9, 31, 100_003]) {
    const g = arena.alloc(n)!;
    for (let i = 0; i < n; i++) g[i] = rng.normal() * 3;
    const plain = Float32Array.from(g); // same values outside the arena: the JS loop
    assert.ok(kernelsHolding(g) && !kernelsHolding(plain));
    const fast = globalNormClip(g, 1), slow = globalNormClip(plain, 1);
    assert.ok(Math.abs(fast.norm - slow.norm) <= 1e-12 * slow.norm, `n=${n}: ${fast.norm} vs ${slow.norm}`);
    const sub = g.subarray(1, n), subPlain = plain.subarray(1, n);
    if (n > 1) assert.ok(Math.abs(globalNormClip(sub, 1).norm - globalNormClip(subPlain, 1).norm) <= 1e-12 * slow.norm);
  }
});
