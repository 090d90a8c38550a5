// Schedules against numpy references of DINO's cosine_scheduler and teacher-temperature schedule
// (test/fixtures/optim/make_optim.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { teacherMomentum, teacherTemperature } from '../../src/methods/teacher/schedules.js';
import { cosineSchedule, learningRate, type LrScaling, scaleLearningRate, weightDecay } from '../../src/train/schedules.js';

interface Fixture {
  cosine: { base: number; final: number; totalSteps: number; warmupSteps: number; startWarmup: number; values: number[] }[];
  teacherTemp: { warmupTemp: number; temp: number; warmupSteps: number; values: number[] }[];
  lrScaling: { lr: number; batchSize: number; rule: LrScaling; reference: number; value: number }[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim/schedules.json', import.meta.url), 'utf8')) as Fixture;

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("cosineSchedule equals DINO's cosine_scheduler at every step (with and without warmup)", () => {
  for (const c of fx.cosine) {
    assert.equal(c.values.length, c.totalSteps);
    c.values.forEach((v, step) => near(cosineSchedule(step, c.totalSteps, c), v, `case base=${c.base} step ${step}`));
    // past the end: the last value
    near(cosineSchedule(c.totalSteps + 5, c.totalSteps, c), c.values[c.totalSteps - 1], 'past the end');
  }
});

test('lr, weight decay and teacher momentum helpers are the DINO schedules', () => {
  const lr = fx.cosine[0];
  lr.values.forEach((v, s) => near(learningRate(s, lr.totalSteps, lr.base, lr.final, lr.warmupSteps), v, `lr step ${s}`));
  assert.equal(learningRate(0, lr.totalSteps, lr.base, lr.final, lr.warmupSteps), 0);
  const wd = fx.cosine[1];
  wd.values.forEach((v, s) => near(weightDecay(s, wd.totalSteps, wd.base, wd.final), v, `wd step ${s}`));
  const mom = fx.cosine[2];
  mom.values.forEach((v, s) => near(teacherMomentum(s, mom.totalSteps, mom.base), v, `momentum step ${s}`));
  assert.equal(teacherMomentum(0, 60, 0.996), 0.996);
});

test('teacherTemperature: linspace warmup then constant', () => {
  for (const c of fx.teacherTemp) {
    c.values.forEach((v, s) => near(teacherTemperature(s, c.warmupSteps, c.warmupTemp, c.temp), v, `temp step ${s}`));
  }
});

test('scaleLearningRate: linear and sqrt rules with a reference batch size', () => {
  for (const c of fx.lrScaling) near(scaleLearningRate(c.lr, c.batchSize, c.rule, c.reference), c.value, `${c.rule} B=${c.batchSize}`);
});

test('bad steps are rejected', () => {
  assert.throws(() => cosineSchedule(-1, 10, { base: 1, final: 0 }), /non-negative integer/);
  assert.throws(() => cosineSchedule(0, 0, { base: 1, final: 0 }), /positive integer/);
});
