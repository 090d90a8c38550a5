// A whole DINO step against PyTorch (test/fixtures/dino/make_dino_step.py): same student and teacher weights, same
// crops, same center; the loss, its parts, every student gradient and the center update must match.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolvePretrainConfig } from '../../src/config/load.js';
import type { Batch } from '../../src/data/loader.js';
import { Dino } from '../../src/methods/dino/dino.js';
import { getModel } from '../../src/models/registry.js';
import { decode, decodeMap, loadFixture, type FixtureTensor } from '../fixtures/models/fixture.js';
import { maxRelDiff as relErr } from '../helpers/compare.js';
import { methodContext, scalars as stepScalars } from '../helpers/methods.js';

interface StepFixture {
  cfg: { B: number; G: number; L: number; K: number; teacher_temp: number; student_temp: number; center_momentum: number };
  student: Record<string, FixtureTensor>;
  teacher: Record<string, FixtureTensor>;
  globals: FixtureTensor;
  locals: FixtureTensor;
  center: FixtureTensor;
  loss: number;
  dino_global: number;
  dino_local: number;
  grads: Record<string, FixtureTensor>;
  new_center: FixtureTensor;
}

const fx = loadFixture<StepFixture>('../dino/dino_step.json');

test('DINO step: loss, parts, every gradient and the center update match PyTorch', async () => {
  const { B, G, L, K } = fx.cfg;
  const cfg = resolvePretrainConfig(
    {
      method_args: { output_dim: K, hidden_dim: 32, bottleneck_dim: 8, student_temp: fx.cfg.student_temp, center_momentum: fx.cfg.center_momentum },
      transforms: { global: { size: 32, count: G }, local: { size: 16, count: L } },
    },
    { data: 'unused', out: 'unused', threads: 1 },
  );
  const model = getModel('vit-tiny/8', { vit: { embedDim: 16, depth: 2, numHeads: 2, imgSize: 32 } });
  const dino = new Dino(methodContext(cfg, { images: 10, totalSteps: 10 }), model);
  await dino.init();
  try {
    dino.student.load(decodeMap(fx.student), '', 'fixture');
    dino.teacher.load(decodeMap(fx.teacher), '', 'fixture');
    dino.center.values.set(decode(fx.center).data);

    const g = decode(fx.globals).data as Float32Array;
    const l = decode(fx.locals).data as Float32Array;
    const gs = B * 3 * 32 * 32, ls = B * 3 * 16 * 16;
    const views = [...Array(G)].map((_, v) => g.slice(v * gs, (v + 1) * gs)).concat([...Array(L)].map((_, v) => l.slice(v * ls, (v + 1) * ls)));
    const batch: Batch = { epoch: 0, batch: 0, size: B, views, viewSizes: [32, 32, 16, 16], indices: new Uint32Array(B), waitMs: 0 };
    const scalars = stepScalars({ momentum: 0.99, teacherTemp: fx.cfg.teacher_temp });
    const r = await dino.forwardBackward(batch, scalars);

    assert.ok(Math.abs(r.loss - fx.loss) < 1e-5 * fx.loss, `loss ${r.loss} vs ${fx.loss}`);
    assert.ok(Math.abs(r.parts.dino_global - fx.dino_global) < 1e-5 * fx.loss);
    assert.ok(Math.abs(r.parts.dino_local - fx.dino_local) < 1e-5 * fx.loss);
    const grads = decodeMap(fx.grads);
    assert.equal(grads.size, dino.grads.names.length, 'one gradient per trainable tensor');
    let worst = 0;
    for (const [name, ref] of grads) {
      const e = relErr(dino.grads.get(name), ref.data);
      worst = Math.max(worst, e);
      assert.ok(e < 2e-4, `${name}: max|diff|/max|g| = ${e}`);
    }
    assert.ok(worst > 0, 'gradients were compared');

    dino.afterStep(scalars);
    assert.ok(relErr(dino.center.values, decode(fx.new_center).data) < 1e-5);
  } finally {
    await dino.release();
  }
});
