// pretrain's periodic kNN eval: the in-memory export of the current backbone, embedded and classified, gives the
// same accuracy as `dinotrain eval --no-linear` on a backbone.onnx file written from the same weights.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readConfigFile, resolvePretrainConfig } from '../../src/config/load.js';
import { evaluateModel } from '../../src/eval/evaluate-model.js';
import { writeBackboneOnnx } from '../../src/export/backbone-files.js';
import type { Dino } from '../../src/methods/dino/dino.js';
import { createMethod } from '../helpers/methods.js';
import { createPeriodicEval } from '../../src/train/periodic-eval.js';
import { UserError } from '../../src/util/errors.js';
import { writeLabelledSet } from '../fixtures/eval/synthetic-images.js';

const tmp = mkdtempSync(join(tmpdir(), 'dt-periodic-eval-'));
const base = readConfigFile('test/fixtures/tiny-dino.yaml');
const config = (flags: Record<string, unknown>) => resolvePretrainConfig(base, { data: 'examples/images', out: join(tmp, 'out'), ...flags });

function recordingLog() {
  const lines: string[] = [];
  const log = { info: (_o: unknown, msg?: string) => lines.push(String(msg)), warn: (msg: unknown) => lines.push(`warn ${String(msg)}`) };
  return { lines, log: log as never };
}

test('every N steps: kNN accuracy of the current teacher, equal to eval on an exported file', async () => {
  const train = join(tmp, 'train'), val = join(tmp, 'val');
  await writeLabelledSet(train, 6, 1);
  await writeLabelledSet(val, 4, 2);
  const cfg = config({ val_data: { train, val, every: 2, k: 5 }, threads: 1 });
  const method = createMethod<Dino>(cfg);
  const { lines, log } = recordingLog();
  const pe = await createPeriodicEval(cfg, 'teacher');
  assert.equal(pe.every, 2);
  assert.match(pe.summary!.text, /kNN eval every 2 steps on 18 train \/ 12 val images in 3 classes/);
  assert.equal(await pe.maybeRun(1, method, log), null);
  assert.equal(await pe.maybeRun(3, method, log), null);
  const m = await pe.maybeRun(2, method, log);
  assert.ok(m);
  assert.deepEqual(Object.keys(m), ['knn_top1']); // 3 classes: no top-5
  assert.match(lines.at(-1)!, /kNN eval at step 2: top-1 \d+\.\d% \(k=5, /);

  const c = cfg.transforms;
  const evalOnFile = async (name: string) => {
    const file = join(tmp, name);
    await writeBackboneOnnx(file, method.model, method.backbone('teacher'), { imageSize: c.global.size, method: 'dino', mean: c.normalize.mean, std: c.normalize.std });
    return (await evaluateModel(file, train, val, { k: 5, linear: false, threads: 1 })).knnTop1;
  };
  assert.equal(m.knn_top1, await evalOnFile('a.onnx'));
  // a teacher whose embedding keeps two channels: a harder task, where a wrong pipeline would show
  const w = method.teacher.value('norm.weight');
  w.fill(0);
  w[0] = 1;
  w[1] = 1;
  const m2 = (await pe.run(4, method, log))!;
  const ref2 = await evalOnFile('b.onnx');
  console.log(`periodic kNN top-1: ${m.knn_top1}; with two channels ${m2.knn_top1} (eval on the exported file: ${ref2})`);
  assert.equal(m2.knn_top1, ref2);
  assert.notEqual(m2.knn_top1, m.knn_top1);

  // the teacher moves: the eval sees the current weights
  method.teacher.value('norm.weight').fill(0);
  method.teacher.value('norm.bias').fill(0);
  const collapsed = await pe.run(6, method, log);
  assert.ok(collapsed && collapsed.knn_top1 <= 1 / 3 + 1e-9, `all-zero embeddings: ${collapsed?.knn_top1}`);
});

test('without val_data it does nothing; a bad folder fails before training', async () => {
  const pe = await createPeriodicEval(config({}), 'teacher');
  assert.equal(pe.every, 0);
  assert.equal(await pe.maybeRun(500, null as never, recordingLog().log), null);
  await assert.rejects(
    createPeriodicEval(config({ val_data: { train: join(tmp, 'nope'), val: join(tmp, 'val') } }), 'teacher'),
    (e: unknown) => e instanceof UserError && /val_data\.train folder not found/.test(e.message),
  );
});
