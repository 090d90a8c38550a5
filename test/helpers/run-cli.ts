// Spawns the built CLI (bin/dinotrain.js -> dist/, compiled by `npm test`'s pretest step) and collects its exit
// code and output. Set DINOTRAIN_TEST_FROM_SOURCE=1 to run src/ through tsx instead (slower start, no build needed).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FROM_SOURCE = !!process.env.DINOTRAIN_TEST_FROM_SOURCE;
const CLI = fileURLToPath(new URL(FROM_SOURCE ? './cli.ts' : '../../bin/dinotrain.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [...(FROM_SOURCE ? ['--import', 'tsx'] : []), CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DINOTRAIN_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Flags for a seconds-long DINO run of a tiny ViT on the bundled photos. */
export function tinyDinoArgs(out: string, extra: string[] = []): string[] {
  return [
    'pretrain', '--config', 'test/fixtures/tiny-dino.yaml', '--data', 'examples/images', '--out', out, ...extra,
  ];
}
