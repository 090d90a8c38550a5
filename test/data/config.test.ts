// The `transforms` config schema, the method presets, and deepMerge.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  resolveTransforms,
  transformsSchema,
  type TransformsConfig,
} from '../../src/config/transforms.js';
import { deepMerge } from '../../src/config/merge.js';
import { METHODS, methodNamed } from '../../src/methods/index.js';
import { viewSpecs } from '../../src/data/views.js';
import { UserError } from '../../src/util/errors.js';

function issuesOf(value: unknown): { path: string; message: string }[] {
  const r = transformsSchema.safeParse(value);
  assert.equal(r.success, false, 'expected a validation error');
  return r.error!.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function withChange(change: unknown): unknown {
  return deepMerge(methodNamed('dino').transforms, change);
}

describe('transforms presets', () => {
  it('every preset validates', () => {
    for (const [name, preset] of METHODS.map((m) => [m.name, m.transforms] as const)) {
      assert.ok(transformsSchema.safeParse(preset).success, name);
    }
  });

  it('DINO: 2 x 224 global (0.14-1) + 6 x 96 local (0.05-0.14), blur 1.0/0.1/0.5, solarize 0/0.2', () => {
    const specs = viewSpecs(methodNamed('dino').transforms);
    assert.deepEqual(
      specs.map((s) => s.size),
      [224, 224, 96, 96, 96, 96, 96, 96],
    );
    assert.deepEqual(specs[0].scale, [0.14, 1]);
    assert.deepEqual(specs[2].scale, [0.05, 0.14]);
    assert.deepEqual(
      specs.map((s) => s.blurP),
      [1, 0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    );
    assert.deepEqual(
      specs.map((s) => s.solarizeP),
      [0, 0.2, 0, 0, 0, 0, 0, 0],
    );
    const t = methodNamed('dino').transforms;
    assert.deepEqual(t.jitter, { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 });
    assert.equal(t.grayscale_p, 0.2);
    assert.equal(t.flip_p, 0.5);
    assert.deepEqual(t.blur.sigma, [0.1, 2]);
  });

  it('DINOv2: 2 x 224 (0.32-1) + 8 x 98 (0.05-0.32); SimCLR: 2 x 224 (0.08-1), strong jitter, no solarize', () => {
    const v2 = viewSpecs(methodNamed('dinov2').transforms);
    assert.deepEqual(
      v2.map((s) => s.size),
      [224, 224, 98, 98, 98, 98, 98, 98, 98, 98],
    );
    assert.deepEqual(v2[0].scale, [0.32, 1]);
    assert.deepEqual(v2[9].scale, [0.05, 0.32]);
    const simclr = viewSpecs(methodNamed('simclr').transforms);
    assert.deepEqual(
      simclr.map((s) => [s.size, s.blurP, s.solarizeP]),
      [
        [224, 0.5, 0],
        [224, 0.5, 0],
      ],
    );
    assert.deepEqual(simclr[0].scale, [0.08, 1]);
    assert.deepEqual(methodNamed('simclr').transforms.jitter, { p: 0.8, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2 });
  });
});

describe('transforms schema errors name the key', () => {
  const cases: [string, unknown, string][] = [
    ['probability above 1', { flip_p: 1.5 }, 'flip_p'],
    ['negative probability', { jitter: { p: -0.1 } }, 'jitter.p'],
    ['scale lo > hi', { global: { scale: [0.9, 0.2] } }, 'global.scale'],
    ['scale above 1', { local: { scale: [0.05, 1.5] } }, 'local.scale.1'],
    ['non-integer size', { local: { size: 96.5 } }, 'local.size'],
    ['zero size', { global: { size: 0 } }, 'global.size'],
    ['zero global views', { global: { count: 0 } }, 'global.count'],
    ['hue above 0.5', { jitter: { hue: 0.7 } }, 'jitter.hue'],
    ['even kernel size', { blur: { kernel_size: 4 } }, 'blur.kernel_size'],
    ['non-positive std', { normalize: { std: [0.2, 0, 0.2] } }, 'normalize.std.1'],
    ['wrong number of per-view blur probabilities', { blur: { p_global: [1] } }, 'blur.p_global'],
    ['unknown key', { jitter: { strength: 2 } }, 'jitter'],
    ['unknown top-level key', { colour: {} }, ''],
  ];
  for (const [name, change, path] of cases) {
    it(name, () => {
      const issues = issuesOf(withChange(change));
      assert.ok(
        issues.some((i) => i.path === path),
        `expected an issue at "${path}", got ${JSON.stringify(issues)}`,
      );
    });
  }

  it('local.count 0 is allowed (SimCLR has no local views)', () => {
    assert.ok(transformsSchema.safeParse(withChange({ local: { count: 0 } })).success);
  });

  it('resolveTransforms throws a UserError that names the key', () => {
    assert.throws(
      () => resolveTransforms(methodNamed('dino').transforms, { global: { scale: [0.5, 0.1] } }),
      (e: unknown) => e instanceof UserError && /transforms\.global\.scale/.test(e.message) && /lower bound/.test(e.message),
    );
  });
});

describe('deepMerge', () => {
  it('overrides nested keys, replaces arrays, keeps the rest and never mutates its inputs', () => {
    const before = structuredClone(methodNamed('dino').transforms);
    const merged = deepMerge<TransformsConfig>(methodNamed('dino').transforms, {
      local: { count: 2 },
      blur: { p_global: [0.5, 0.5] },
      jitter: { hue: undefined },
    });
    assert.equal(merged.local.count, 2);
    assert.equal(merged.local.size, 96);
    assert.deepEqual(merged.blur.p_global, [0.5, 0.5]);
    assert.equal(merged.jitter.hue, 0.1);
    assert.deepEqual(methodNamed('dino').transforms, before);
    merged.global.scale[0] = 0.99;
    assert.deepEqual(methodNamed('dino').transforms, before);
  });

  it('resolveTransforms merges an override over the method preset', () => {
    const t = resolveTransforms(methodNamed('dinov2').transforms, { local: { count: 4 }, flip_p: 0 });
    assert.equal(t.local.count, 4);
    assert.equal(t.local.size, 98);
    assert.equal(t.flip_p, 0);
  });
});
