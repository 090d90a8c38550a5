// Gradient clipping and the EMA teacher update against torch fixtures (test/fixtures/optim/make_optim.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { clipGlobalNorm, clipPerTensor } from '../../src/engine/clip.js';
import { emaUpdate } from '../../src/engine/ema.js';
import { type TrainableTensor as ParamSpec, ParamStore } from '../../src/engine/param-store.js';

interface Fixture {
  specs: ParamSpec[];
  grads: number[][];
  clip_global: { maxNorm: number; scale: number; norm: number; grads: number[] }[];
  clip_per_tensor: { maxNorm: number; scale: number; norms: number[]; grads: number[] }[];
  ema: { teacher0: number[]; momentums: number[]; steps: { student: number[]; teacher: number[] }[] };
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim/optim.json', import.meta.url), 'utf8')) as Fixture;

function close(actual: ArrayLike<number>, expected: readonly number[], what: string, tol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol * Math.max(1, Math.abs(expected[i])), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

function gradients(scale: number) {
  const g = new ParamStore(fx.specs).createGradients();
  g.flat.set(fx.grads[0].map((x) => Math.fround(x * scale)));
  return g;
}

test('clipGlobalNorm matches torch.nn.utils.clip_grad_norm_ (clipping and not clipping)', () => {
  for (const c of fx.clip_global) {
    const g = gradients(c.scale);
    const norm = clipGlobalNorm(g.flat, c.maxNorm);
    assert.ok(Math.abs(norm - c.norm) <= 1e-6 * c.norm, `norm ${norm} vs ${c.norm}`);
    close(g.flat, c.grads, `clipped grads (max ${c.maxNorm})`);
  }
});

test('clipGlobalNorm leaves the gradients alone and reports a non-finite norm', () => {
  const g = new Float32Array([1, Number.NaN, 2]);
  assert.ok(Number.isNaN(clipGlobalNorm(g, 1)));
  assert.equal(g[0], 1);
  assert.equal(clipGlobalNorm(new Float32Array([Infinity, 0]), 1), Infinity);
});

test("clipPerTensor matches DINO's clip_gradients", () => {
  for (const c of fx.clip_per_tensor) {
    const g = gradients(c.scale);
    const norms = new Float64Array(fx.specs.length);
    const out = clipPerTensor(g, c.maxNorm, norms);
    assert.equal(out, norms);
    close(out, c.norms, 'per-tensor norms');
    close(g.flat, c.grads, `per-tensor clipped grads (max ${c.maxNorm})`);
  }
  assert.ok(fx.clip_per_tensor[0].norms.some((n) => n > fx.clip_per_tensor[0].maxNorm), 'fixture clips some tensors');
  assert.ok(fx.clip_per_tensor[0].norms.some((n) => n < fx.clip_per_tensor[0].maxNorm), 'fixture leaves some tensors');
});

test('emaUpdate matches the DINO teacher update over changing students and momentums', () => {
  const teacher = Float32Array.from(fx.ema.teacher0);
  fx.ema.steps.forEach((s, t) => {
    emaUpdate(teacher, Float32Array.from(s.student), fx.ema.momentums[t]);
    close(teacher, s.teacher, `teacher after step ${t + 1}`);
  });
  assert.throws(() => emaUpdate(new Float32Array(2), new Float32Array(3), 0.9), /differ in size/);
});
