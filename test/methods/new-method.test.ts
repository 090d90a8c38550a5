// A new method is one folder under src/methods/ plus one line in src/methods/index.ts: a copy of src/ gets the toy
// method of test/fixtures/toy-method/ that way, and the CLI of that copy trains it for two steps, checkpoints it,
// exports it and lists it in --help; nothing else in the copy is edited.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tree = mkdtempSync(join(tmpdir(), 'dt-new-method-'));
after(() => rmSync(tree, { recursive: true, force: true }));

test('a toy method added as one folder and one list line trains, checkpoints and exports', () => {
  cpSync(join(root, 'src'), join(tree, 'src'), { recursive: true });
  cpSync(join(root, 'test', 'helpers', 'cli.ts'), join(tree, 'test', 'helpers', 'cli.ts'));
  cpSync(join(root, 'package.json'), join(tree, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  mkdirSync(join(tree, 'src', 'methods', 'toy'));
  cpSync(join(root, 'test', 'fixtures', 'toy-method', 'index.ts'), join(tree, 'src', 'methods', 'toy', 'index.ts'));

  // the one line: the toy definition joins the list (its import sits on the same line)
  const list = join(tree, 'src', 'methods', 'index.ts');
  const before = readFileSync(list, 'utf8');
  const after = before.replace(/^export const METHODS: readonly MethodDefinition\[\] = \[(.*)\];$/m, "import { toy } from './toy/index.js'; export const METHODS: readonly MethodDefinition[] = [$1, toy];");
  assert.notEqual(after, before, 'methods/index.ts holds the list on one line');
  assert.equal(after.split('\n').length, before.split('\n').length, 'one line changed');
  writeFileSync(list, after);

  const cfg = join(tree, 'toy.yaml');
  writeFileSync(cfg, 'model: vit-tiny/8\nmodel_args: { embed_dim: 32, depth: 2, num_heads: 2 }\nbatch_size: 4\nsteps: 2\nthreads: 1\nnum_workers: 2\nlog_every: 1\ntransforms: { global: { size: 32 } }\n');
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(tree, 'test', 'helpers', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });

  const help = cli(['pretrain', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout.replace(/\s+/g, " "), /toy: two views pulled together/);

  const out = join(tree, 'run');
  const r = cli(['pretrain', '--config', cfg, '--method', 'toy', '--data', 'examples/images', '--out', out, '--loggers', 'jsonl']);
  assert.equal(r.status, 0, r.stderr);
  const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => x.step), [1, 2]);
  assert.ok(rows.every((x) => Number.isFinite(x.loss)));
  const state = JSON.parse(readFileSync(join(out, 'checkpoints', 'last', 'state.json'), 'utf8'));
  assert.equal(state.config.method, 'toy');
  assert.ok(existsSync(join(out, 'exported_models', 'backbone.onnx')));

  const resumed = cli(['pretrain', '--config', cfg, '--method', 'toy', '--data', 'examples/images', '--out', out, '--loggers', 'jsonl', '--steps', '3', '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const exp = cli(['export', '--checkpoint', join(out, 'checkpoints', 'last'), '--out', join(tree, 'toy.safetensors')]);
  assert.equal(exp.status, 0, exp.stderr);
  assert.match(exp.stdout, /student backbone of vit-tiny\/8 \(toy, step 3\)/);
});
