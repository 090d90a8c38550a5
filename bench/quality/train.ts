// One bounded pretraining run for bench/quality.ts: spawns `dinotrain pretrain` (through tsx) and records, whenever a
// new checkpoints/step-N appears, the wall-clock and CPU seconds (user + system, all threads, from /proc) spent so far.
//   node --import tsx bench/quality/train.ts <out> <timeout-min> -- <pretrain flags...>
// writes <out>/timing.json: { command, steps: [{ step, wallS, cpuS }], wallS, cpuS, exitCode }.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StepTiming {
  step: number;
  wallS: number;
  cpuS: number;
}

export interface RunTiming {
  command: string;
  steps: StepTiming[];
  wallS: number;
  cpuS: number;
  exitCode: number | null;
}

const TICKS_PER_S = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}

/** The steps of the checkpoints/step-N folders written since `sinceMs` (older ones are a previous run's, not yet replaced). */
function checkpointSteps(out: string, sinceMs: number): number[] {
  const dir = join(out, 'checkpoints');
  if (!existsSync(dir)) return [];
  const steps: number[] = [];
  for (const d of readdirSync(dir)) {
    const m = /^step-(\d+)$/.exec(d);
    try {
      if (m && statSync(join(dir, d)).mtimeMs >= sinceMs) steps.push(Number(m[1]));
    } catch {
      // removed between the listing and the stat: the run replacing it
    }
  }
  return steps;
}

export async function timedPretrain(out: string, timeoutMin: number, flags: string[]): Promise<RunTiming> {
  const args = ['--import', 'tsx', 'test/helpers/cli.ts', 'pretrain', '--out', out, ...flags];
  const command = `node ${args.join(' ')}`;
  // this file's own output from an earlier run; pretrain --overwrite would refuse the folder with a foreign file in it
  rmSync(join(out, 'timing.json'), { force: true });
  const t0 = performance.now();
  const startMs = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const steps: StepTiming[] = [];
  const seen = new Set<number>();
  let lastCpu = 0;
  const poll = () => {
    lastCpu = cpuSeconds(child.pid!) ?? lastCpu;
    for (const s of checkpointSteps(out, startMs).sort((a, b) => a - b)) {
      if (seen.has(s)) continue;
      seen.add(s);
      steps.push({ step: s, wallS: (performance.now() - t0) / 1000, cpuS: lastCpu });
    }
  };
  const timer = setInterval(poll, 2000);
  const killer = setTimeout(() => child.kill('SIGINT'), timeoutMin * 60_000);
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearInterval(timer);
  clearTimeout(killer);
  poll();
  const timing: RunTiming = { command, steps, wallS: (performance.now() - t0) / 1000, cpuS: lastCpu, exitCode };
  writeFileSync(join(out, 'timing.json'), JSON.stringify(timing, null, 2) + '\n');
  return timing;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, timeoutMin, dashes, ...flags] = process.argv.slice(2);
  if (!out || !timeoutMin || dashes !== '--') throw new Error('usage: train.ts <out> <timeout-min> -- <pretrain flags...>');
  const t = await timedPretrain(out, Number(timeoutMin), flags);
  console.log(JSON.stringify(t));
}
