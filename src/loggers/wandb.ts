import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import type { Logger } from './logger.js';
import type { FromWorker, ToWorker, WandbRunSettings } from './wandb-protocol.js';

export interface WandbLoggerOptions {
  run: WandbRunSettings;
  apiKey: string;
  baseUrl: string;
  onWarning(message: string): void;
  onInfo?(message: string): void;
  /** Bound on wandb.init (default 60 s); past it W&B is turned off for the run with a warning. */
  initTimeoutMs?: number;
  /** Bound on wandb.finish (default 30 s); past it the upload is abandoned with a warning. */
  finishTimeoutMs?: number;
}

const STILL_ON = 'training goes on; every metric is still in metrics.jsonl / TensorBoard';

/** The worker next to this file: .ts under tsx (tests, dev), .js from the compiled dist/. */
function workerEntry(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith('.ts')) {
    return { path: self.replace(/wandb\.ts$/, 'wandb-worker.ts'), execArgv: ['--import', import.meta.resolve('tsx')] };
  }
  return { path: self.replace(/wandb\.js$/, 'wandb-worker.js'), execArgv: [] };
}

/**
 * Weights & Biases through @wandb/sdk, run in a child process fed over IPC. Whatever the SDK or the
 * network does, the training process gets at most warnings: init and finish are bounded, the child's
 * death turns this logger into a no-op, and the child never keeps the parent alive or takes its signals.
 */
export class WandbLogger implements Logger {
  private child: ChildProcess | null = null;
  private alive = false;
  private initState: 'none' | 'pending' | 'ready' | 'off' = 'none';
  private closed = false;
  private expectingExit = false;
  private fatalReason: string | undefined;
  private outputTail = '';
  private readonly waiters = new Set<(msg: FromWorker | { type: 'exit' }) => void>();
  private readonly initTimeoutMs: number;
  private readonly finishTimeoutMs: number;

  constructor(private readonly opts: WandbLoggerOptions) {
    this.initTimeoutMs = opts.initTimeoutMs ?? 60_000;
    this.finishTimeoutMs = opts.finishTimeoutMs ?? 30_000;
    const entry = workerEntry();
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      env: { ...process.env, WANDB_API_KEY: opts.apiKey, WANDB_BASE_URL: opts.baseUrl },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: process.platform !== 'win32', // own process group: a terminal's Ctrl-C goes to us only
      serialization: 'json',
    });
    this.child = child;
    this.alive = true;
    const keepTail = (chunk: Buffer): void => {
      this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(-2000);
    };
    child.stdout?.on('data', keepTail);
    child.stderr?.on('data', keepTail);
    child.on('message', (msg) => this.onMessage(msg as FromWorker));
    child.on('error', (err) => this.onExit(`could not run its process (${err.message})`));
    child.on('exit', (code, signal) => this.onExit(signal ? `signal ${signal}` : `exit code ${code}`));
    // Never keep the training process alive; pending init/finish hold their own timers.
    child.unref();
    child.channel?.unref();
    (child.stdout as Socket | null)?.unref();
    (child.stderr as Socket | null)?.unref();
  }

  /** The worker's process id while it runs. */
  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  /** Starts the W&B run with the resolved config; resolves when it runs, or when W&B was given up on. */
  async hparams(config: Record<string, unknown>): Promise<void> {
    if (this.initState !== 'none' || !this.alive || this.closed) return;
    await this.startRun(config);
  }

  scalars(step: number, values: Record<string, number>): void {
    if (!this.alive || this.closed || this.initState === 'off') return;
    if (this.initState === 'none') {
      // no hparams() first: a run without config; a rejected key can only be a warning here
      this.startRun({}).catch((err: Error) => this.opts.onWarning(`${err.message} W&B logging is off.`));
    }
    this.send({ type: 'log', step, values });
  }

  /** @wandb/sdk 0.5 has no Image type (its Media class is abstract) and no file upload: images are skipped. */
  image(): void {}

  text(): void {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.alive || this.initState === 'off') return;
    this.send({ type: 'finish', exitCode: 0 });
    const reply = await this.waitFor(['finished'], this.finishTimeoutMs);
    if (reply === 'timeout') {
      this.kill();
      this.opts.onWarning(
        `W&B did not finish uploading within ${this.finishTimeoutMs / 1000} s; its run may miss the last steps.`,
      );
    }
  }

  private async startRun(config: Record<string, unknown>): Promise<void> {
    this.initState = 'pending';
    this.send({ type: 'init', run: this.opts.run, config });
    const reply = await this.waitFor(['ready', 'init-failed'], this.initTimeoutMs);
    if (reply === 'timeout') {
      this.initState = 'off';
      this.kill();
      this.opts.onWarning(`W&B did not start within ${this.initTimeoutMs / 1000} s; W&B logging is off, ${STILL_ON}.`);
    } else if (reply.type === 'ready') {
      this.initState = 'ready';
      this.opts.onInfo?.(`W&B run: ${reply.url}`);
    } else if (reply.type === 'init-failed') {
      this.initState = 'off';
      this.kill();
      if (reply.httpStatus === 401 || reply.httpStatus === 403) {
        throw new UserError(
          `W&B rejected the API key (HTTP ${reply.httpStatus}). Check WANDB_API_KEY (and WANDB_BASE_URL for a ` +
            'private server), or set WANDB_MODE=disabled to train without W&B.',
        );
      }
      this.opts.onWarning(`W&B could not start a run (${reply.reason}); W&B logging is off, ${STILL_ON}.`);
    }
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'warning') this.opts.onWarning(msg.message);
    if (msg.type === 'fatal') this.fatalReason = msg.message;
    for (const w of [...this.waiters]) w(msg);
  }

  private onExit(how: string): void {
    if (!this.alive) return;
    this.alive = false;
    for (const w of [...this.waiters]) w({ type: 'exit' });
    // Our own kill, a failed init (already reported) or the normal exit after close(): nothing to add.
    if (this.expectingExit || this.initState === 'off' || (this.closed && !this.fatalReason)) return;
    const lastOutput = this.outputTail.trim().split('\n').slice(-3).join(' | ');
    const why = this.fatalReason ?? (lastOutput ? `${how}: ${lastOutput}` : how);
    this.opts.onWarning(`W&B logging stopped (its process ended: ${why}); ${STILL_ON}.`);
  }

  /** The first of the wanted messages, 'exit' if the child died, or 'timeout'. */
  private waitFor(types: FromWorker['type'][], timeoutMs: number): Promise<FromWorker | { type: 'exit' } | 'timeout'> {
    if (!this.alive) return Promise.resolve({ type: 'exit' });
    return new Promise((resolve) => {
      const done = (result: FromWorker | { type: 'exit' } | 'timeout'): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(result);
      };
      const waiter = (msg: FromWorker | { type: 'exit' }): void => {
        if (msg.type === 'exit' || types.includes(msg.type)) done(msg);
      };
      const timer = setTimeout(() => done('timeout'), timeoutMs); // ref'd: keeps us alive while waiting
      this.waiters.add(waiter);
    });
  }

  private send(msg: ToWorker): void {
    const child = this.child;
    if (!this.alive || !child?.connected) return;
    try {
      child.send(msg, (err) => {
        if (err) this.onExit(`its IPC channel failed (${err.message})`);
      });
    } catch (err) {
      this.onExit(`its IPC channel failed (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  private kill(): void {
    this.expectingExit = true;
    if (this.alive) this.child?.kill('SIGKILL');
  }
}
