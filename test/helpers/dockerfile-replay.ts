// Replays a Dockerfile without a container engine: each stage's filesystem is a folder, COPY copies exactly the files
// it names from the build context (or another stage's folder), RUN runs the command with the stage's ENV in the folder
// standing for its WORKDIR, and the last stage's ENTRYPOINT + CMD can then be run. Paths the Dockerfile names
// (/app, /work...) are rewritten into the stage's folder (image-paths.ts).
//
// What it does not reproduce: the base image. RUN and ENTRYPOINT use this machine's programs (node, npm, sh) and
// libraries; FROM only starts an empty folder (or a copy of an earlier stage). npm fetches packages through a cache
// folder of the stage whose contents are this machine's npm cache (so `npm cache clean` there deletes nothing of it),
// preferring the cache to the registry. There is no isolation: RUN commands naming base-image paths are refused.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import { findStage, type Command, type Stage } from './dockerfile-parse.js';
import { foreignPaths, imageLocations, pathRewriter } from './image-paths.js';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StageFolder {
  name: string;
  /** The folder standing for the stage's `/`. */
  root: string;
  env: Record<string, string>;
  /** The WORKDIR in effect at the end of the stage (an image path). */
  workdir: string;
  entrypoint?: Command;
  cmd?: Command;
}

export interface Replay {
  stages: StageFolder[];
  /** Where an image path of the last stage lies on this machine. */
  hostPath(imagePath: string): string;
  /** `docker run IMAGE ...args` (args omitted: the image's CMD), image paths in args rewritten. */
  run(args?: string[]): Promise<ProcessResult>;
  /** Seconds each RUN took, by Dockerfile line. */
  timings: { line: number; seconds: number }[];
}

export interface ReplayOptions {
  /** The npm cache whose contents the stages' npm commands use (read-mostly: `npm cache clean` removes only a link). */
  npmCache: string;
  /** Milliseconds any one RUN or ENTRYPOINT may take. */
  timeoutMs?: number;
}

function spawnCollect(argv: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<ProcessResult> {
  return new Promise((done, fail) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** This machine's environment without what a parent npm, a test runner or the user's dinotrain settings put there. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|DINOTRAIN_)/i.test(k) || ['INIT_CWD', 'NODE', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_ENV'].includes(k)) continue;
    env[k] = v;
  }
  return env;
}

/** A node_modules above the replay would let Node find packages the image lacks. */
function assertNoOuterNodeModules(folder: string): void {
  for (let dir = dirname(folder); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) throw new Error(`${join(dir, 'node_modules')} would hide packages missing from the replayed image`);
    if (dirname(dir) === dir) return;
  }
}

/** Docker's COPY: a file goes into a destination folder (ends with / or several sources) or becomes it; a folder's contents are copied. */
function copyInto(src: string, destHost: string, destIsFolder: boolean): void {
  if (statSync(src).isDirectory()) {
    mkdirSync(destHost, { recursive: true });
    cpSync(src, destHost, { recursive: true, verbatimSymlinks: true });
    return;
  }
  const target = destIsFolder || (existsSync(destHost) && statSync(destHost).isDirectory()) ? join(destHost, basename(src)) : destHost;
  mkdirSync(dirname(target), { recursive: true });
  cpSync(src, target, { verbatimSymlinks: true });
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export async function replayDockerfile(stages: Stage[], context: string, folder: string, options: ReplayOptions): Promise<Replay> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  assertNoOuterNodeModules(folder);
  const locations = imageLocations(stages);
  const done: StageFolder[] = [];
  const timings: { line: number; seconds: number }[] = [];
  mkdirSync(join(options.npmCache, '_cacache'), { recursive: true });

  for (const [index, stage] of stages.entries()) {
    const name = stage.name ?? String(index);
    const root = join(folder, `stage-${index}-${name}`);
    const parent = findStage(stages, stage.base, index);
    const current: StageFolder =
      parent >= 0
        ? { ...structuredClone(done[parent]), name, root }
        : { name, root, env: {}, workdir: '/' };
    if (parent >= 0) cpSync(done[parent].root, root, { recursive: true, verbatimSymlinks: true });
    else mkdirSync(root, { recursive: true });
    const rewrite = pathRewriter(locations, root);
    const host = (imagePath: string) => join(root, posix.resolve(current.workdir, imagePath));

    // npm in this stage: its own cache folder, whose _cacache is a link to this machine's cache
    const npmCache = join(folder, `npm-cache-${index}`);
    mkdirSync(npmCache, { recursive: true });
    if (!existsSync(join(npmCache, '_cacache'))) symlinkSync(join(options.npmCache, '_cacache'), join(npmCache, '_cacache'));

    for (const ins of stage.instructions) {
      const where = `Dockerfile line ${ins.line}`;
      switch (ins.kind) {
        case 'WORKDIR':
          current.workdir = posix.resolve(current.workdir, ins.path);
          mkdirSync(host('.'), { recursive: true });
          break;
        case 'ENV':
          for (const [k, v] of ins.vars) current.env[k] = v;
          break;
        case 'COPY': {
          let srcRoot = context;
          if (ins.from !== undefined) {
            const from = findStage(stages, ins.from, index);
            if (from < 0) throw new Error(`${where}: COPY --from=${ins.from} names no earlier stage (other images are not replayed)`);
            srcRoot = done[from].root;
          }
          const destIsFolder = ins.dest.endsWith('/') || ins.sources.length > 1;
          for (const s of ins.sources) {
            const src = ins.from !== undefined ? join(srcRoot, posix.resolve('/', s)) : resolve(context, s);
            if (!inside(srcRoot, src)) throw new Error(`${where}: COPY ${s} lies outside the ${ins.from ? 'stage' : 'build context'}`);
            if (!existsSync(src) && !lstatSync(src, { throwIfNoEntry: false })) {
              throw new Error(`${where}: COPY ${s}: not found in the ${ins.from !== undefined ? `stage ${ins.from}` : 'build context'}`);
            }
            copyInto(src, host(ins.dest), destIsFolder);
          }
          break;
        }
        case 'RUN': {
          const argv = 'exec' in ins.command ? ins.command.exec.map(rewrite) : ['/bin/sh', '-c', rewrite(ins.command.shell)];
          const foreign = foreignPaths('exec' in ins.command ? ins.command.exec.join(' ') : ins.command.shell, locations);
          if (foreign.length) throw new Error(`${where}: RUN names ${foreign.join(', ')}, of the base image, which the replay does not reproduce`);
          const env = { ...cleanEnv(), npm_config_cache: npmCache, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...current.env };
          const started = performance.now();
          const r = await spawnCollect(argv, host('.'), env, timeoutMs);
          timings.push({ line: ins.line, seconds: (performance.now() - started) / 1000 });
          if (r.code !== 0) throw new Error(`${where}: RUN exited ${r.code}\n${(r.stdout + r.stderr).slice(-4000)}`);
          if (!existsSync(join(options.npmCache, '_cacache'))) throw new Error(`${where}: the RUN removed this machine's npm cache`);
          break;
        }
        case 'ENTRYPOINT':
          current.entrypoint = ins.command;
          current.cmd = undefined; // Docker: a new ENTRYPOINT resets an inherited CMD
          break;
        case 'CMD':
          current.cmd = ins.command;
          break;
      }
    }
    done.push(current);
  }

  const last = done.at(-1)!;
  const rewrite = pathRewriter(locations, last.root);
  const asArgv = (c: Command) => ('exec' in c ? c.exec : ['/bin/sh', '-c', c.shell]);
  return {
    stages: done,
    timings,
    hostPath: (imagePath) => join(last.root, posix.resolve(last.workdir, imagePath)),
    run: (args) => {
      // Docker: a shell-form ENTRYPOINT ignores CMD and the run's arguments
      const entry = last.entrypoint ? asArgv(last.entrypoint) : [];
      const rest = last.entrypoint && 'shell' in last.entrypoint ? [] : (args ?? (last.cmd ? asArgv(last.cmd) : []));
      const argv = [...entry, ...rest].map(rewrite);
      if (argv.length === 0) throw new Error('the image has neither ENTRYPOINT nor CMD');
      return spawnCollect(argv, join(last.root, last.workdir), { ...cleanEnv(), ...last.env }, timeoutMs);
    },
  };
}
