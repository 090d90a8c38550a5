// AdamW and SGD/LARS against torch.optim fixtures (test/fixtures/optim/make_optim.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AdamW } from '../../src/engine/adamw.js';
import { type Optimizer, type TrainableTensor as ParamSpec, ParamStore } from '../../src/engine/param-store.js';
import { SGD } from '../../src/engine/sgd.js';
import { UserError } from '../../src/util/errors.js';

interface Fixture {
  specs: ParamSpec[];
  init: number[];
  grads: number[][];
  lrs: number[];
  wds: number[];
  adamw: { params: number[][]; m: number[]; v: number[] };
  adamw_frozen: { frozen: Record<string, number>; params: number[][]; steps: number[] };
  sgd: { momentum: number; weightDecay: number; params: number[][]; buf: number[] };
  lars: { momentum: number; weightDecay: number; eta: number; params: number[][] };
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim/optim.json', import.meta.url), 'utf8')) as Fixture;

function close(actual: ArrayLike<number>, expected: readonly number[], what: string, tol = 2e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (err ${err})`);
  }
}

function freshStore(): ParamStore {
  return new ParamStore(fx.specs, undefined, Float32Array.from(fx.init));
}

/** Runs the fixture's steps: lr and weight decay from the fixture's schedule, per-step gradients. */
function runSteps(opt: Optimizer, store: ParamStore, expected: number[][], what: string, opts: { wd?: boolean; frozen?: Record<string, number> } = {}) {
  const grads = store.createGradients();
  fx.grads.forEach((g, t) => {
    grads.flat.set(g);
    for (const [name, steps] of Object.entries(opts.frozen ?? {})) opt.setFrozen(name, t < steps);
    opt.lr = fx.lrs[t];
    if (opts.wd !== false) opt.weightDecay = fx.wds[t];
    opt.step(grads.flat);
    close(store.flat, expected[t], `${what} step ${t + 1}`);
  });
}

test('AdamW with decay mask and lr scales matches torch.optim.AdamW over 6 steps', () => {
  const store = freshStore();
  const opt = new AdamW(store, { lr: 0, weightDecay: 0 });
  runSteps(opt, store, fx.adamw.params, 'adamw');
  close(opt.m.flat, fx.adamw.m, 'exp_avg');
  close(opt.v.flat, fx.adamw.v, 'exp_avg_sq');
  assert.deepEqual([...opt.steps], [6, 6, 6, 6]);
});

test('AdamW: a frozen parameter is skipped like a None grad (own step count, no decay)', () => {
  const store = freshStore();
  const opt = new AdamW(store, { lr: 0, weightDecay: 0 });
  runSteps(opt, store, fx.adamw_frozen.params, 'adamw frozen', { frozen: fx.adamw_frozen.frozen });
  assert.deepEqual([...opt.steps], fx.adamw_frozen.steps);
});

test('AdamW: the mask and lr scale matter (the fixture would catch ignoring them)', () => {
  const uniform = new ParamStore(fx.specs.map((s) => ({ ...s, weightDecay: true, lrScale: 1 })), undefined, Float32Array.from(fx.init));
  const opt = new AdamW(uniform, { lr: 0, weightDecay: 0 });
  assert.throws(() => runSteps(opt, uniform, fx.adamw.params, 'adamw'), assert.AssertionError);
});

test('AdamW state export/import continues exactly like an uninterrupted run', () => {
  const a = freshStore();
  const optA = new AdamW(a, { lr: 0, weightDecay: 0 });
  const grads = a.createGradients();
  const stepWith = (opt: AdamW, t: number) => {
    grads.flat.set(fx.grads[t]);
    opt.lr = fx.lrs[t];
    opt.weightDecay = fx.wds[t];
    opt.step(grads.flat);
  };
  for (let t = 0; t < 3; t++) stepWith(optA, t);
  const exported = optA.exportState();
  assert.equal(exported.metadata.optimizer, 'adamw');
  assert.ok(exported.tensors.has('m.w1') && exported.tensors.has('v.tok') && exported.tensors.has('step.b1'));
  // a "resumed" optimizer over a copy of the parameters, state copied (as through a checkpoint)
  const b = new ParamStore(fx.specs, undefined, new Float32Array(a.flat));
  const optB = new AdamW(b, { lr: 0, weightDecay: 0 });
  const copied = new Map([...exported.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }] as const));
  optB.importState({ tensors: copied, metadata: exported.metadata });
  for (let t = 3; t < 6; t++) stepWith(optB, t);
  close(b.flat, fx.adamw.params[5], 'resumed adamw', 2e-6);

  assert.throws(() => optB.importState({ tensors: copied, metadata: { optimizer: 'sgd' } }), UserError);
  copied.delete('v.w2');
  assert.throws(() => optB.importState({ tensors: copied, metadata: exported.metadata }), /missing 'v\.w2'/);
});

test('SGD with momentum and masked weight decay matches torch.optim.SGD', () => {
  const store = freshStore();
  const opt = new SGD(store, { lr: 0, momentum: fx.sgd.momentum, weightDecay: fx.sgd.weightDecay });
  runSteps(opt, store, fx.sgd.params, 'sgd', { wd: false });
  close(opt.buf.flat, fx.sgd.buf, 'momentum_buffer');
});

test('LARS matches a float64 reference of SimCLR LARSOptimizer', () => {
  const store = freshStore();
  const opt = new SGD(store, { lr: 0, momentum: fx.lars.momentum, weightDecay: fx.lars.weightDecay, lars: true, eta: fx.lars.eta });
  assert.equal(opt.kind, 'lars');
  runSteps(opt, store, fx.lars.params, 'lars', { wd: false });
});

test('ParamStore: views share the flat buffer, clone is independent, loadFrom names problems', () => {
  const init = new Map([['b1', [1, 2, 3]]]);
  const s = new ParamStore(fx.specs, init);
  assert.equal(s.size, 12 + 3 + 10 + 5);
  assert.deepEqual([...s.get('b1')], [1, 2, 3]);
  assert.equal(s.get('b1').buffer, s.flat.buffer);
  assert.equal(s.flat[12], 1);
  s.get('w2')[0] = 7;
  assert.equal(s.flat[15], 7);
  const c = s.clone();
  c.flat[0] = 42;
  assert.equal(s.flat[0], 0);
  assert.deepEqual(c.shapes, s.shapes);
  const g = s.createGradients();
  g.set('tok', [1, 2, 3, 4, 5]);
  assert.deepEqual([...g.flat.subarray(25)], [1, 2, 3, 4, 5]);
  assert.throws(() => g.set('tok', [1]), /expects 5 values/);
  assert.throws(() => new ParamStore([...fx.specs, fx.specs[0]]), /duplicate/);
  assert.throws(() => new ParamStore(fx.specs, new Map([['nope', [1]]])), /unknown parameter/);

  const saved = s.toMap('student.');
  const t = new ParamStore(fx.specs);
  t.loadFrom(saved, 'student.');
  assert.deepEqual(t.flat, s.flat);
  const f16 = new Map<string, { shape: readonly number[]; data: ArrayLike<number>; dtype?: string }>(saved);
  f16.set('student.tok', { dtype: 'F16', shape: [1, 1, 5], data: new Uint16Array(5) });
  assert.throws(() => t.loadFrom(f16, 'student.'), /'student\.tok' has dtype F16, expected F32/);
  saved.set('student.w1', { shape: [3, 4], data: new Float32Array(12) });
  saved.delete('student.b1');
  assert.throws(() => t.loadFrom(saved, 'student.'), (e: Error) => e instanceof UserError && /missing 'student\.b1'/.test(e.message) && /shape \[3,4\], expected \[4,3\]/.test(e.message));
});
