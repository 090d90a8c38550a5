// The SimCLR method (src/methods/simclr.ts) end to end inside one process, against two PyTorch training steps
// (test/fixtures/simclr/make_step.py): a width-4 ResNet-18 + projection head with the same weights, both views in one
// train-mode forward, NT-Xent; step 1's loss, every gradient and the BN running statistics, then momentum SGD
// (BN parameters and biases without weight decay) and step 2's loss and gradients.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { resolvePretrainConfig } from '../../src/config/load.js';
import type { Batch } from '../../src/data/loader.js';
import { SGD } from '../../src/engine/sgd.js';
import type { StepScalars } from '../../src/methods/method.js';
import { simclr } from '../../src/methods/simclr/index.js';
import { SimClr } from '../../src/methods/simclr/simclr.js';
import { restoreState } from '../../src/methods/state.js';
import { checkedModel } from '../../src/train/setup.js';
import { methodContext, scalars as stepScalars } from '../helpers/methods.js';
import { UserError } from '../../src/util/errors.js';
import { decode, decodeMap, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

interface StepFixture {
  config: { width: number; hidden_dim: number; output_dim: number; batch: number; size: number; temperature: number; lr: number; momentum: number; weight_decay: number };
  params: Record<string, FixtureTensor>;
  views: FixtureTensor[];
  steps: { loss: number; grads: Record<string, FixtureTensor>; running_after: Record<string, FixtureTensor>; params_after?: Record<string, FixtureTensor> }[];
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/simclr/step.json', import.meta.url), 'utf8')) as StepFixture;
const c = fx.config;

function makeMethod(overrides: Record<string, unknown> = {}) {
  const cfg = resolvePretrainConfig(
    {},
    {
      method: 'simclr', data: 'unused', out: 'unused', model: 'resnet18', steps: 2, batch_size: c.batch,
      model_args: { width: c.width },
      method_args: { hidden_dim: c.hidden_dim, output_dim: c.output_dim, temperature: c.temperature },
      transforms: { global: { size: c.size } },
      ...overrides,
    },
  );
  return new SimClr(methodContext(cfg, { images: 8, totalSteps: 2 }), checkedModel(cfg));
}

function batchOf(views: FixtureTensor): Batch {
  const all = decode(views).data as Float32Array; // [2, N, 3, S, S]
  const per = all.length / 2;
  return {
    epoch: 0, batch: 0, size: c.batch, views: [all.slice(0, per), all.slice(per)], viewSizes: [c.size, c.size],
    indices: Uint32Array.from({ length: c.batch }, (_, i) => i), waitMs: 0,
  };
}

// Relative tolerances vs the float64 reference. Step 2 starts from weights that carry step 1's float32 rounding;
// PyTorch's own float32 run of this fixture is 1.4e-4 off in step 2's gradients (1.5e-5 in step 1's).
const TOL = [
  { loss: 2e-5, grads: 1e-4, running: 1e-5 },
  { loss: 1e-4, grads: 1e-3, running: 1e-4 },
];

const scalars = (step: number): StepScalars => stepScalars({ step, totalSteps: 2, lr: c.lr, weightDecay: c.weight_decay });

test('SimCLR: two training steps match PyTorch (loss, gradients, BN running statistics, SGD without decay on BN/bias)', async (t) => {
  const m = makeMethod();
  await m.init();
  try {
    // the method's spec is torchvision's backbone plus the head, as the fixture's state_dict names them
    assert.deepEqual([...m.stateTensors().keys()].sort(), Object.keys(fx.params).map((k) => 'student.' + k).sort());
    restoreState(m.stateTensors(), new Map([...decodeMap(fx.params)].map(([k, v]) => ['student.' + k, { shape: v.shape, data: Float32Array.from(v.data) }])));
    const opt = new SGD(m.params, { lr: c.lr, momentum: c.momentum, weightDecay: c.weight_decay });

    const worst: number[] = [];
    for (const [i, ref] of fx.steps.entries()) {
      const r = await m.forwardBackward(batchOf(fx.views[i]), scalars(i));
      assert.ok(Math.abs(r.loss - ref.loss) < TOL[i].loss * ref.loss, `step ${i + 1}: loss ${r.loss} vs torch ${ref.loss}`);
      const grads = decodeMap(ref.grads);
      if (i === 0) assert.equal(grads.size, m.params.names.length, 'step 1 compares every gradient');
      for (const [name, g] of grads) {
        const e = relErr(m.grads.get(name), g.data);
        worst[i] = Math.max(worst[i] ?? 0, e);
        assert.ok(e < TOL[i].grads, `step ${i + 1}: grad ${name}: rel err ${e}`);
      }
      opt.step(m.grads.flat);
      m.afterStep(scalars(i));
      for (const [name, want] of decodeMap(ref.params_after ?? {})) {
        const e = relErr(m.params.get(name), want.data);
        assert.ok(e < 1e-5, `after step ${i + 1}'s update: ${name}: rel err ${e}`);
      }
      const running = decodeMap(ref.running_after);
      assert.ok(running.has('projection_head.1.running_mean') && running.has('layer4.1.bn2.running_var'));
      for (const [name, want] of running) {
        const e = relErr(m.student.value(name), want.data);
        assert.ok(e < TOL[i].running, `step ${i + 1}: ${name}: rel err ${e}`);
      }
    }
    t.diagnostic(`worst gradient rel err: step 1 ${worst[0].toExponential(2)}, step 2 ${worst[1].toExponential(2)}`);
  } finally {
    await m.release();
  }
});

test('SimCLR: the exported backbone is the student without the projection head, BN buffers included', async () => {
  const m = makeMethod();
  const b = m.backbone();
  assert.equal(simclr.exportPart, 'student');
  assert.equal(b.model, 'resnet18');
  const names = [...b.tensors.keys()];
  assert.ok(names.includes('layer4.1.bn2.running_var') && names.includes('conv1.weight'));
  assert.ok(names.every((n) => !n.startsWith('projection_head.')), 'no head tensors in the backbone');
  assert.equal(names.length, Object.keys(fx.params).filter((k) => !k.startsWith('projection_head.')).length);
});

test('SimCLR: a config with other than two global views and no locals is a user error', () => {
  const three = { global: { size: c.size, count: 3 }, blur: { p_global: [1, 0.1, 0.5] }, solarize: { p_global: [0, 0.2, 0] } };
  assert.throws(() => makeMethod({ transforms: three }), (e: Error) => e instanceof UserError && /exactly 2 views/.test(e.message));
  assert.throws(() => makeMethod({ transforms: { global: { size: c.size }, local: { count: 2 } } }), /2 local crops/);
});

test('SimCLR on a ViT: the class token feeds the head; drop path is drawn per step from the seed', async () => {
  const m = makeMethod({
    model: 'vit-tiny/16', model_args: { embed_dim: 24, depth: 2, num_heads: 2 }, transforms: { global: { size: 32 } }, drop_path_rate: 0.2,
  });
  await m.init();
  try {
    const per = c.batch * 3 * 32 * 32;
    const views = [0, 1].map((v) => Float32Array.from({ length: per }, (_, k) => Math.sin(k * 0.37 + v) * 0.8));
    const batch: Batch = { epoch: 0, batch: 0, size: c.batch, views, viewSizes: [32, 32], indices: new Uint32Array(c.batch), waitMs: 0 };
    const r = await m.forwardBackward(batch, scalars(0));
    assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss ${r.loss}`);
    assert.ok(m.grads.get('cls_token').some((v) => v !== 0), 'the class token gets a gradient');
    assert.ok(m.grads.get('projection_head.0.weight').some((v) => v !== 0));
    // same step, same draws, same loss; another step draws other drop-path masks (nothing was updated in between)
    assert.equal((await m.forwardBackward(batch, scalars(0))).loss, r.loss);
    assert.notEqual((await m.forwardBackward(batch, scalars(1))).loss, r.loss);
    // no BatchNorm in the backbone: only the head's running statistics move
    m.afterStep(scalars(0));
    assert.ok(m.student.value('projection_head.1.running_mean').some((v) => v !== 0));
  } finally {
    await m.release();
  }
});
