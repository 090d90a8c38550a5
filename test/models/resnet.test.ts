// ResNet-18 / ResNet-50 layouts (torchvision's blocks, narrowed widths) against PyTorch
// (test/fixtures/models/make_resnet.py): training-mode forward with batch statistics, the running-stat update
// from the graph's BN outputs vs torch's, gradients, and eval mode (export graph) with the running statistics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Session, type Tensor } from '../../src/graph/index.js';
import { graphParams } from '../../src/models/graph-params.js';
import { updateRunningStats } from '../../src/models/layers/batch-norm.js';
import { resnetForward } from '../../src/models/resnet.js';
import { resnetConfig, resnetSpec, type ResNetConfig } from '../../src/models/resnet-spec.js';
import { decode, decodeMap, loadFixture, relErr, type FixtureTensor } from '../fixtures/models/fixture.js';

interface ResNetCase {
  name: string;
  block: 'BasicBlock' | 'Bottleneck';
  layers: [number, number, number, number];
  width: number;
  params: Record<string, FixtureTensor>;
  x: FixtureTensor;
  coef: FixtureTensor;
  feats_train: FixtureTensor;
  loss: number;
  grads: Record<string, FixtureTensor>;
  running_after: Record<string, FixtureTensor>;
  feats_eval: FixtureTensor;
}

const fx = loadFixture<{ cases: ResNetCase[] }>('resnet.json');

// Relative tolerances vs the float64 reference. 50 layers of training-mode BN over a 4-image batch amplify
// float32 rounding: PyTorch's own float32 run of 'resnet50-w2' is 1e-5 (features) / 6e-5 (gradients) off.
const TOL: Record<string, { feats: number; grads: number }> = {
  'resnet18-w4': { feats: 1e-5, grads: 3e-5 },
  'resnet50-w2': { feats: 1e-4, grads: 3e-4 },
};

const configOf = (c: ResNetCase): ResNetConfig =>
  resnetConfig(c.block === 'BasicBlock' ? 'resnet18' : 'resnet50', { width: c.width });

const f32 = (t: FixtureTensor) => {
  const d = decode(t);
  return { data: d.data as Float32Array, dims: d.shape };
};

for (const c of fx.cases) {
  const cfg = configOf(c);

  test(`resnet '${c.name}': spec matches the torchvision module's state_dict`, () => {
    const spec = resnetSpec(cfg);
    assert.deepEqual(spec.map((p) => p.name), Object.keys(c.params));
    for (const p of spec) assert.deepEqual(p.shape, c.params[p.name].shape, p.name);
  });

  test(`resnet '${c.name}': train-mode forward, BN running-stat update and gradients match PyTorch`, async () => {
    const g = new Graph();
    const P = graphParams(g, resnetSpec(cfg));
    const x = g.input('x', ['N', 3, 36, 36]);
    const coef = g.input('coef', ['N', cfg.width * 8 * (cfg.block === 'basic' ? 1 : 4)]);
    const o = resnetForward(g, P, x, cfg, 'train');
    const loss = g.reduceSum(g.mul(o.features, coef), undefined, false);
    const outputs: Record<string, Tensor> = { feats: o.features, loss };
    for (const s of o.bnStats) {
      outputs[`mean:${s.name}`] = s.mean;
      outputs[`var:${s.name}`] = s.var;
    }
    // training-mode BN reads no running statistics
    assert.equal(g.params.some((p) => p.name.includes('running')), false);
    g.grad(loss, g.params.map((p) => p.tensor)).forEach((t, i) => (outputs[`grad:${g.params[i].name}`] = t));
    const s = await Session.create(g.toBytes(outputs), { intraOpNumThreads: 1 });
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: f32(c.x), coef: f32(c.coef) };
    for (const p of g.params) feeds[p.name] = f32(c.params[p.name]);
    const out = await s.run(feeds);
    await s.release();

    const ef = relErr(out.feats.data as Float32Array, decode(c.feats_train).data);
    assert.ok(ef < TOL[c.name].feats, `train features: rel err ${ef}`);
    const lossOut = out.loss.data[0] as number;
    assert.ok(Math.abs(lossOut - c.loss) < 1e-4 * Math.abs(c.loss), `loss ${lossOut} vs ${c.loss}`);
    const grads = decodeMap(c.grads);
    assert.deepEqual(new Set(g.params.map((p) => p.name)), new Set(grads.keys()));
    for (const [name, ref] of grads) {
      const e = relErr(out[`grad:${name}`].data as Float32Array, ref.data);
      assert.ok(e < TOL[c.name].grads, `grad ${name}: rel err ${e}`);
    }

    const values = new Map([...decodeMap(c.params)].map(([k, v]) => [k, Float32Array.from(v.data)]));
    updateRunningStats(
      values,
      o.bnStats.map((st) => ({ name: st.name, mean: out[`mean:${st.name}`].data as Float32Array, var: out[`var:${st.name}`].data as Float32Array })),
    );
    const after = decodeMap(c.running_after);
    assert.equal(after.size, o.bnStats.length * 3);
    for (const [name, ref] of after) {
      const e = relErr(values.get(name)!, ref.data);
      assert.ok(e < 1e-5, `${name}: rel err ${e}`);
    }
  });

  test(`resnet '${c.name}': eval mode with running statistics (export graph) matches PyTorch`, async () => {
    const values = new Map([...decodeMap(c.params)].map(([k, v]) => [k, v.data as Float32Array]));
    for (const [k, v] of decodeMap(c.running_after)) values.set(k, v.data as Float32Array);
    const g = new Graph({ paramValues: values });
    const x = g.input('x', ['N', 3, 36, 36]);
    const o = resnetForward(g, graphParams(g, resnetSpec(cfg)), x, cfg, 'eval');
    assert.equal(o.bnStats.length, 0);
    const s = await Session.create(g.toBytes({ feats: o.features }), { intraOpNumThreads: 1 });
    const out = await s.run({ x: f32(c.x) });
    await s.release();
    const e = relErr(out.feats.data as Float32Array, decode(c.feats_eval).data);
    assert.ok(e < 1e-5, `eval features: rel err ${e}`);
  });
}
