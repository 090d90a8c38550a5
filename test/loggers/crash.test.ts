import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { createLoggers } from '../../src/loggers/create.js';
import { readEventFile, scalarsAfterPurge } from '../fixtures/loggers/tfevents-decoder.js';

const tmp = mkdtempSync(join(tmpdir(), 'loggers-crash-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const jsonlSteps = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).step as number);
const eventFiles = (dir: string) =>
  readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.')).sort().map((n) => readEventFile(join(dir, n)));

/** Runs the logging child until it has reported `atLeast` steps, SIGKILLs it; returns the last reported step. */
function logThenKill(outDir: string, atLeast: number): Promise<number> {
  const script = fileURLToPath(new URL('../fixtures/loggers/log-until-killed.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), script, outDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let last = -1;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) last = Number(line.split(' ')[1]);
      if (last >= atLeast && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`child ended with ${code ?? signal} before being killed`));
    });
  });
}

test('kill -9 keeps every logged step in jsonl and tensorboard; a resume at step 10 has no duplicates', async () => {
  const out = join(tmp, 'run');
  const lastReported = await logThenKill(out, 25);

  const steps = jsonlSteps(out); // every line parses: no torn line (each line is one write)
  assert.ok(steps.length >= lastReported + 1, `jsonl has ${steps.length} steps, child reported ${lastReported}`);
  assert.deepEqual(steps, range(0, steps.length));
  const [killedFile] = eventFiles(out);
  assert.ok(killedFile!.frames.every((f) => f.lengthCrcOk && f.dataCrcOk));
  const tbSteps = [...scalarsAfterPurge([killedFile!]).get('loss')!.keys()];
  assert.ok(tbSteps.length >= lastReported + 1);
  assert.deepEqual(tbSteps, range(0, tbSteps.length));

  // resume from a checkpoint at step 10, as the trainer would after the crash
  const warnings: string[] = [];
  const logger = await createLoggers(['jsonl', 'tensorboard'], { outDir: out, resumeStep: 10, onWarning: (m) => warnings.push(m) });
  await logger.hparams({ lr: 0.1 });
  for (let s = 10; s < 40; s++) logger.scalars(s, { loss: -s });
  await logger.close();
  assert.deepEqual(warnings, []);
  assert.deepEqual(jsonlSteps(out), range(0, 40));
  const loss = scalarsAfterPurge(eventFiles(out)).get('loss')!;
  assert.deepEqual([...loss.keys()].sort((a, b) => a - b), range(0, 40));
  for (const [s, v] of loss) assert.equal(v, s < 10 ? Math.fround(1 / (s + 1)) : -s);
});
