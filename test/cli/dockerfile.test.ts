// The Dockerfile, replayed without a container engine (test/helpers/dockerfile-replay.ts): every stage is a temporary
// folder that receives exactly what its COPY instructions name (a file the image lacks is missing there too), its RUN
// commands run with the stage's ENV in the folder standing for its WORKDIR (the runtime stage's `npm ci --omit=dev`
// really omits the devDependencies), and the runtime stage's ENTRYPOINT then prints the help and runs a 2-step
// pretrain on the photos inside the image. Image paths the Dockerfile names (/app, /work) are rewritten into the
// folders.
//
// Not reproduced: the base image. Its OS (Debian bookworm), its Node and its npm are not used: the commands run on this
// machine's Node (the replay is skipped unless its major version is the base image's), npm (possibly newer than the
// image's npm 10) and system libraries. npm takes packages from this machine's npm cache (--prefer-offline) instead of
// the image's empty one. Nothing isolates the commands, runs them as another user or limits their resources.
//
// Also here: the GitHub Actions example docs/ci-github-actions.yml (docs/ci.md), parsed, with the commands it runs
// checked against package.json and dinotrain's --help.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { flagValue, helpFlags, parseWorkflow, runCommands } from '../helpers/ci-workflow.js';
import { parseDockerfile } from '../helpers/dockerfile-parse.js';
import { replayDockerfile, type Replay } from '../helpers/dockerfile-replay.js';
import { runCli } from '../helpers/run-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'dt-docker-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const npmCache = spawnSync('npm', ['config', 'get', 'cache'], { cwd: tmp, encoding: 'utf8' }).stdout.trim();

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const p = join(dir, e.name);
    return sum + (e.isDirectory() ? folderBytes(p) : e.isFile() ? statSync(p).size : 0);
  }, 0);
}

/** The replay runs this machine's Node: it stands for the image only when the major versions agree. */
function nodeMismatch(): string | undefined {
  const base = stages.at(-1)!.base;
  const major = /^node:(\d+)/.exec(base)?.[1];
  const here = process.versions.node.split('.')[0];
  if (major === undefined) return `the runtime image ${base} is not a node:<major> image`;
  return major === here ? undefined : `this machine runs Node ${here}, the image Node ${major}`;
}

test('every npm install in the Dockerfile skips dependency install scripts', () => {
  const runs = stages.flatMap((s) => s.instructions).flatMap((i) => (i.kind === 'RUN' ? ['exec' in i.command ? i.command.exec.join(' ') : i.command.shell] : []));
  const installs = runs.flatMap((r) => r.split(/&&|;|\|\|/)).filter((c) => /\bnpm\s+(ci|install|i|rebuild)\b/.test(c));
  assert.ok(installs.length > 0, 'the Dockerfile installs its dependencies with npm');
  for (const c of installs) assert.match(c, /--ignore-scripts\b/, `${c.trim()}: would run onnxruntime-node's install script`);
});

describe('the Dockerfile, replayed', { skip: nodeMismatch(), timeout: 600_000 }, () => {
  let image: Replay;
  before(async () => {
    image = await replayDockerfile(stages, root, join(tmp, 'replay'), { npmCache });
  }, { timeout: 540_000 });

  test('the runtime stage has none of the packages only devDependencies need', () => {
    const lock = JSON.parse(readFileSync(image.hostPath('/app/package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.keys(lock.packages).filter((p) => lock.packages[p].dev && p.startsWith('node_modules/'));
    assert.ok(Object.keys(pkg.devDependencies).some((name) => devOnly.includes(`node_modules/${name}`)), 'some devDependencies are dev-only');
    for (const p of devOnly) assert.ok(!existsSync(image.hostPath(`/app/${p}`)), `${p} is not in the runtime image`);
    assert.ok(existsSync(image.hostPath('/app/node_modules/onnxruntime-node/package.json')), 'the dependencies are');
  });

  test('--help lists the commands; without arguments the image prints the same (CMD)', async () => {
    const help = await image.run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const c of ['pretrain', 'embed', 'export', 'eval', 'doctor']) assert.match(help.stdout, new RegExp(`^\\s+${c}\\b`, 'm'));
    assert.equal(help.stderr, '');
    const bare = await image.run();
    assert.deepEqual(bare, help);
  });

  test('--help lists the pretrain options', async () => {
    const r = await image.run(['pretrain', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--data <dir>/);
  });

  test('a 2-step pretrain on the photos inside the image writes the backbone to /work', async (t) => {
    const started = performance.now();
    const r = await image.run([
      'pretrain', '--config', '/app/configs/quickstart.yaml', '--data', '/app/examples/images', '--out', '/work/runs/exp1',
      '--steps', '2', '--batch-size', '4', '--no-overwrite', '--loggers', 'jsonl', '--threads', '1',
    ]);
    const mb = (folderBytes(image.stages.at(-1)!.root) / 2 ** 20).toFixed(0);
    t.diagnostic(`pretrain ${((performance.now() - started) / 1000).toFixed(1)} s; RUN ${image.timings.map((x) => `line ${x.line} ${x.seconds.toFixed(1)} s`).join(', ')}; runtime stage ${mb} MB`);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['backbone.onnx', 'backbone.safetensors']) {
      assert.ok(statSync(image.hostPath(`/work/runs/exp1/exported_models/${f}`)).size > 0, f);
    }
    const config = JSON.parse(readFileSync(image.hostPath('/work/runs/exp1/config.json'), 'utf8')) as { data: string; steps: number };
    assert.equal(config.steps, 2);
    assert.equal(config.data, image.hostPath('/app/examples/images'));
  });
});

describe('the replay', () => {
  /** A build context of the given files and a replay of its Dockerfile. */
  async function replayOf(name: string, files: Record<string, string>): Promise<Replay> {
    const context = join(tmp, name);
    mkdirSync(context, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(context, f), text);
    return replayDockerfile(parseDockerfile(files.Dockerfile), context, join(tmp, `${name}-replay`), { npmCache });
  }

  test('fails on a COPY of a file the build context lacks', async () => {
    const dockerfile = 'FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY present.txt missing.txt ./\n';
    await assert.rejects(replayOf('missing', { Dockerfile: dockerfile, 'present.txt': 'x' }), /line 3: COPY missing\.txt: not found/);
  });

  test('refuses a RUN that names a path of the base image, without running it', async () => {
    const dockerfile = 'FROM node:20-bookworm-slim\nWORKDIR /app\nRUN touch /app/ran && ls /var/lib\n';
    await assert.rejects(replayOf('foreign', { Dockerfile: dockerfile }), /line 3: RUN names \/var\/lib/);
    assert.ok(!existsSync(join(tmp, 'foreign-replay', 'stage-0-0', 'app', 'ran')));
  });

  test('rewrites the paths the Dockerfile names and no other; ENV, WORKDIR, COPY --from and CMD as Docker does', async () => {
    const image = await replayOf('paths', {
      'show.mjs': 'console.log(JSON.stringify({ cwd: process.cwd(), args: process.argv.slice(2), greeting: process.env.GREETING }));\n',
      Dockerfile: [
        'FROM node:20-bookworm-slim AS build',
        'WORKDIR /src',
        'COPY show.mjs ./',
        'RUN node show.mjs /src/show.mjs > /src/built.json',
        'FROM node:20-bookworm-slim',
        'ENV GREETING="hello world"',
        'COPY --from=build /src /app',
        'WORKDIR /work',
        'ENTRYPOINT ["node", "/app/show.mjs"]',
        'CMD ["/app/built.json", "/etc/hosts", "--out=/work/o"]',
      ].join('\n'),
    });
    const [build, runtime] = image.stages.map((s) => s.root);
    const built = JSON.parse(readFileSync(image.hostPath('/app/built.json'), 'utf8'));
    assert.deepEqual(built, { cwd: realpathSync(join(build, 'src')), args: [join(build, 'src', 'show.mjs')] });
    const r = await image.run();
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(r.stdout);
    assert.deepEqual(shown, {
      cwd: realpathSync(join(runtime, 'work')),
      args: [image.hostPath('/app/built.json'), '/etc/hosts', `--out=${image.hostPath('/work/o')}`],
      greeting: 'hello world',
    });
  });

  test('an npm ci --omit=dev stage lacks the devDependencies a program imports', async () => {
    const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    const dep = 'node_modules/yaml'; // a dependency of dinotrain, so npm's cache has it
    assert.ok(rootLock.packages[dep]);
    const manifest = { name: 'devonly', version: '1.0.0', type: 'module', devDependencies: { yaml: rootLock.packages[dep].version } };
    const lock = { name: 'devonly', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': manifest, [dep]: { ...rootLock.packages[dep], dev: true } } };
    const image = await replayOf('devonly', {
      'package.json': JSON.stringify(manifest),
      'package-lock.json': JSON.stringify(lock),
      'main.mjs': "import { parse } from 'yaml';\nconsole.log(parse('a: 1').a);\n",
      Dockerfile: 'FROM node:20-bookworm-slim\nWORKDIR /app\nCOPY package.json package-lock.json main.mjs ./\nRUN npm ci --omit=dev --ignore-scripts\nENTRYPOINT ["node", "/app/main.mjs"]\n',
    });
    const r = await image.run();
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Cannot find package 'yaml'/);
  });
});

describe('docs/ci-github-actions.yml', () => {
  const workflow = parseWorkflow(readFileSync(join(root, 'docs', 'ci-github-actions.yml'), 'utf8'));
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const jobs = Object.values(workflow.jobs);
  const steps = jobs.flatMap((j) => j.steps);
  const commands = steps.flatMap((s) => (s.run ? runCommands(s.run).map((words) => ({ step: s, words })) : []));
  const pretrain = commands.filter(({ words }) => words[0] === 'npx' && words[1] === 'dinotrain' && words[2] === 'pretrain');

  test('is a workflow: triggers, jobs with a runner and steps that each use an action or run a script', () => {
    assert.ok(workflow.on);
    assert.ok(jobs.length > 0);
    for (const job of jobs) {
      assert.ok(job['runs-on']);
      for (const s of job.steps) assert.ok((s.uses === undefined) !== (s.run === undefined), JSON.stringify(s));
    }
    for (const s of steps) if (s.uses) assert.match(s.uses, /^[\w-]+\/[\w-]+@v\d+$/);
  });

  test('sets up Node 20 with the npm cache and caches node_modules on package-lock.json', () => {
    const node = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    assert.equal(String(node?.with?.['node-version']), (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node.replace(/^>=/, ''));
    assert.equal(node?.with?.cache, 'npm');
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache@') && s.with?.path === 'node_modules');
    assert.ok(cache?.id, 'the node_modules cache step has an id');
    assert.match(String(cache.with?.key), /hashFiles\('package-lock\.json'\)/);
    const install = steps.find((s) => s.run && /^npm ci\b/.test(s.run));
    assert.ok(install, 'a step runs npm ci');
    assert.equal(install.if, `steps.${cache.id}.outputs.cache-hit != 'true'`, 'npm ci (which deletes node_modules) runs only when the cache missed');
  });

  test('no npm ci runs onnxruntime-node\'s install script', () => {
    for (const job of jobs) {
      for (const s of job.steps) {
        for (const words of s.run ? runCommands(s.run) : []) {
          if (words[0] !== 'npm' || words[1] !== 'ci' || words.includes('--ignore-scripts')) continue;
          assert.equal({ ...job.env, ...s.env }.ONNXRUNTIME_NODE_INSTALL, 'skip', words.join(' '));
        }
      }
    }
  });

  test('runs only npm scripts of package.json and dinotrain flags its --help lists', async () => {
    assert.ok(pretrain.length > 0, 'the workflow pretrains');
    for (const { words } of commands) {
      const line = words.join(' ');
      if (words[0] === 'npm' && words[1] === 'ci') continue;
      if (words[0] === 'npm' && words[1] === 'run') {
        assert.ok(scripts[words[2]], `${line}: package.json has the script`);
        continue;
      }
      assert.deepEqual(words.slice(0, 2), ['npx', 'dinotrain'], `${line}: a command this test knows`);
      const help = await runCli([words[2], '--help']);
      assert.equal(help.code, 0, `${line}: dinotrain has the command ${words[2]}`);
      const flags = helpFlags(help.stdout);
      for (const w of words.slice(3)) if (w.startsWith('-')) assert.ok(flags.has(w.split('=')[0]), `${line}: ${w} is an option of dinotrain ${words[2]}`);
      for (const f of ['--config', '--data']) {
        const path = flagValue(words, f);
        if (path) assert.ok(existsSync(join(root, path)), `${line}: ${path} exists`);
      }
    }
  });

  test('its pretrain resolves to a valid config, and the artifact is that run\'s exported backbone', async () => {
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    for (const { words } of pretrain) {
      const r = await runCli([...words.slice(2), '--print-config']);
      assert.equal(r.code, 0, r.stderr);
      const config = parseYaml(r.stdout) as { out: string; steps: number };
      assert.equal(String(config.steps), flagValue(words, '--steps'));
      assert.equal(String(upload?.with?.path).replace(/\/$/, ''), `${config.out}/exported_models`);
    }
  });
});
