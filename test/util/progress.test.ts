// Progress output must never stop a run: fake terminals with odd widths or failing writes, and a real training run
// under a pseudo-terminal that reports 0 columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { Progress, formatDuration } from '../../src/train/progress.js';
import { progressLine } from '../../src/embed/progress.js';
import { tinyDinoArgs } from '../helpers/run-cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A terminal-like stream that records what is written; `fail` decides which writes throw. */
class FakeTerminal extends EventEmitter {
  isTTY = true;
  out = '';
  writes = 0;
  constructor(
    public columns: number | undefined,
    private readonly fail: (chunk: string) => Error | null = () => null,
  ) {
    super();
  }
  write(chunk: string): boolean {
    this.writes++;
    const e = this.fail(chunk);
    if (e) throw e;
    this.out += chunk;
    return true;
  }
  asStream(): NodeJS.WriteStream {
    return this as unknown as NodeJS.WriteStream;
  }
}

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
const visibleLines = (out: string) => out.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '\n').split(/[\r\n]/).filter(Boolean);

const info = (step: number) => ({ step, total: 3, loss: 1.5, imagesPerSec: 12.5, epoch: 0 });

for (const columns of [0, undefined, -4, 2.5]) {
  test(`the training bar draws 80-column lines on a terminal reporting ${columns} columns`, () => {
    const term = new FakeTerminal(columns);
    const p = new Progress(0, term.asStream());
    p.update(info(1));
    p.clear();
    p.update(info(2));
    p.update(info(3));
    p.clear();
    p.done();
    const lines = visibleLines(term.out);
    assert.ok(lines.some((l) => /^step 1\/3  epoch 0  loss 1\.5000  12\.5 img\/s  elapsed \d+s  ETA \S+$/.test(l)), term.out);
    assert.ok(lines.every((l) => l.length <= 79), term.out);
  });
}

test('the training bar includes the bar itself on a wide terminal and keeps the last line on done()', () => {
  const term = new FakeTerminal(200);
  const p = new Progress(0, term.asStream());
  p.update(info(3));
  p.done();
  assert.match(term.out, /\[#{24}\] step 3\/3  epoch 0  loss 1\.5000  12\.5 img\/s  elapsed \d+s  ETA 0s\n$/);
  // no cursor save/restore, hiding or autowrap toggling that a killed run would leave behind
  assert.doesNotMatch(term.out, /\x1b[78]|\x1b\[\?(25|7)[hl]/);
});

test('a terminal write that throws EPIPE turns the training bar off without reaching the caller', () => {
  const term = new FakeTerminal(100, epipe);
  const p = new Progress(0, term.asStream());
  p.update(info(1));
  p.clear();
  p.update(info(2));
  p.done();
  assert.equal(term.writes, 1);
});

test("a stream 'error' event turns the training bar off", () => {
  const term = new FakeTerminal(100);
  const p = new Progress(0, term.asStream());
  p.update(info(1));
  term.emit('error', epipe());
  const before = term.writes;
  p.clear();
  p.update(info(2));
  p.done();
  assert.equal(term.writes, before);
});

test('the bar installs no signal or exit handlers (SIGINT belongs to src/train/signals.ts)', () => {
  const events = ['SIGINT', 'SIGTERM', 'exit', 'beforeExit'] as const;
  const counts = () => events.map((e) => process.listenerCount(e));
  const before = counts();
  const p = new Progress(0, new FakeTerminal(80).asStream());
  p.update(info(1));
  assert.deepEqual(counts(), before);
  p.done();
});

test('an active bar does not keep the process alive', { timeout: 30_000 }, () => {
  const progress = new URL('../../src/train/progress.ts', import.meta.url).href;
  const code = `
    const { Progress } = await import(${JSON.stringify(progress)});
    const stream = { isTTY: true, columns: 0, write: () => true };
    new Progress(0, stream).update({ step: 1, total: 10, loss: 1, imagesPerSec: 1 });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, timeout: 20_000, encoding: 'utf8' });
  assert.equal(r.signal, null, 'still running after 20 s');
  assert.equal(r.status, 0, r.stderr);
});

test('formatDuration', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(187), '3m07s');
  assert.equal(formatDuration(7500), '2h05m');
  assert.equal(formatDuration(NaN), '--');
  assert.equal(formatDuration(-1), '--');
});

test('embed progress on a 0-column terminal: a rewritten line with elapsed time and ETA, kept by finish()', () => {
  const term = new FakeTerminal(0);
  const line = progressLine('embed', term.asStream());
  line.update(1, 4);
  line.update(4, 4, '1 skipped');
  line.finish('wrote emb.csv');
  assert.match(term.out, /embed: 4\/4 \(100%\) [\d.]+ images\/s, 1 skipped, elapsed \d+s, ETA 0s\nwrote emb\.csv\n$/);
  assert.ok(visibleLines(term.out).every((l) => l.length <= 79), term.out);
});

test('embed progress off a terminal: a plain line at once, then every 5 s and at the end', () => {
  const term = new FakeTerminal(undefined);
  term.isTTY = false;
  const line = progressLine('embed', term.asStream());
  line.update(1, 10);
  line.update(2, 10);
  line.update(10, 10);
  line.finish();
  const lines = term.out.split('\n').filter(Boolean);
  assert.equal(lines.length, 2, term.out);
  assert.match(lines[0]!, /^embed: 1\/10 \(10%\) [\d.]+ images\/s, elapsed \d+s, ETA \S+$/);
  assert.match(lines[1]!, /^embed: 10\/10 \(100%\)/);
});

test('embed progress falls back to plain lines when the terminal rejects cursor control', () => {
  const term = new FakeTerminal(80, (chunk) => (chunk.includes('\x1b') ? new Error('no cursor control') : null));
  const line = progressLine('embed', term.asStream());
  line.update(1, 2);
  line.update(2, 2);
  line.finish('done');
  assert.match(term.out, /^embed: 1\/2 \(50%\).*\nembed: 2\/2 \(100%\).*\ndone\n$/);
});

test('embed progress survives a terminal whose writes all throw EPIPE', () => {
  const term = new FakeTerminal(0, epipe);
  const line = progressLine('embed', term.asStream());
  line.update(1, 2);
  line.update(2, 2);
  line.finish('done');
  assert.equal(term.out, '');
});

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') ?? false;
const noScript = hasScript ? false : '`script` from util-linux is not installed';

/** Runs `cmd` under `script` in a pseudo-terminal whose width is 0 columns; `onStart` gets the command's pid. */
function runInZeroColumnPty(cmd: string[], pidFile: string, onStart?: (pid: number) => void) {
  const shell = `stty cols 0; echo $$ > ${shellQuote(pidFile)}; exec ${cmd.map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-qec', shell, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, DINOTRAIN_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  if (onStart) {
    const poll = setInterval(() => {
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (!pid) return;
      clearInterval(poll);
      onStart(pid);
    }, 50);
    child.on('close', () => clearInterval(poll));
  }
  return new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
}

const cliCommand = (args: string[]) => [process.execPath, '--import', 'tsx', 'test/helpers/cli.ts', ...args];

test('a training run on a 0-column pseudo-terminal finishes and writes its checkpoint', { skip: noScript, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dinotrain-progress-'));
  try {
    const out = join(dir, 'run');
    const r = await runInZeroColumnPty(cliCommand(tinyDinoArgs(out, ['--steps', '3', '--log-every', '1'])), join(dir, 'pid'));
    assert.equal(r.code, 0, r.output);
    assert.ok(existsSync(join(out, 'checkpoints', 'last', 'model.safetensors')), r.output);
    assert.match(r.output, /step 3\/3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C during a run on a 0-column pseudo-terminal still checkpoints and exits 130', { skip: noScript, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dinotrain-progress-'));
  try {
    const out = join(dir, 'run');
    let pid = 0;
    // no log line and no periodic checkpoint before the signal: the bar is on screen, the checkpoint is the signal's
    const args = tinyDinoArgs(out, ['--steps', '100000', '--log-every', '100000', '--checkpoint-every', '100000']);
    const run = runInZeroColumnPty(cliCommand(args), join(dir, 'pid'), (p) => (pid = p));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(out, 'train.log')) || !readFileSync(join(out, 'train.log'), 'utf8').includes('trainable parameters')) {
      assert.ok(Date.now() < deadline, 'the run did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500)); // a few steps
    process.kill(pid, 'SIGINT');
    const r = await run;
    assert.equal(r.code, 130, r.output);
    assert.match(r.output, /step \d+\/100000/);
    assert.ok(existsSync(join(out, 'checkpoints', 'last', 'model.safetensors')), r.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
