// dinotrain as users install it: `npm pack`, then `npm install -g --ignore-scripts` of the tarball into a fresh
// prefix, reaching only the npm registry (packages come from the local cache when it has them). No npm warning, and
// the installed command prints its help and runs a 2-step pretrain on the bundled photos, from another folder.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'dt-packed-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const npm = (args: string[], cwd = root) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'warn' } });

test('the packed tarball installs globally without warnings and runs', { timeout: 240_000 }, () => {
  const pack = npm(['pack', '--pack-destination', tmp]);
  assert.equal(pack.status, 0, pack.stderr);
  const tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
  const files = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout;
  for (const f of ['package/bin/dinotrain.js', 'package/dist/cli/main.js', 'package/docs/distributed.md', 'package/README.md', 'package/examples/images/astronaut-0.jpg']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }

  const prefix = join(tmp, 'prefix');
  const install = npm(['install', '-g', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball], tmp);
  assert.equal(install.status, 0, install.stderr);
  assert.doesNotMatch(install.stderr, /npm warn/i, install.stderr);

  const bin = join(prefix, 'bin', 'dinotrain');
  assert.ok(existsSync(bin));
  const help = spawnSync(bin, ['--help'], { cwd: tmp, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /pretrain/);
  assert.doesNotMatch(help.stderr, /warn/i);

  const examples = join(prefix, 'lib', 'node_modules', 'dinotrain', 'examples', 'images');
  const config = join(prefix, 'lib', 'node_modules', 'dinotrain', 'configs', 'quickstart.yaml');
  const run = spawnSync(bin, ['pretrain', '--config', config, '--data', examples, '--out', join(tmp, 'run'), '--steps', '2', '--batch-size', '4', '--no-overwrite', '--loggers', 'jsonl', '--threads', '1'], {
    cwd: tmp,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(existsSync(join(tmp, 'run', 'exported_models', 'backbone.onnx')));
});
