import { mkdirSync, readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from './logger.js';
import { AppendFile } from '../util/write-file.js';
import { flattenConfig } from './flatten.js';
import { tfRecord } from './tfrecord.js';
import {
  fileVersionEvent, hparamsEvent, imageEvent, scalarsEvent, sessionStartEvent, textEvent,
} from './tf-event.js';

export interface TensorBoardLoggerOptions {
  outDir: string;
  /** Resuming at this step: a new events file whose SessionLog START hides the old run's steps >= it. */
  resumeStep?: number;
  /** Wall clock in milliseconds (tests pin it). */
  now?: () => number;
}

const EVENT_FILE = /^events\.out\.tfevents\.(\d+)\./;
let filesOpened = 0;

/**
 * Writes TensorBoard event files (TFRecord-framed Event protos) itself. Each event is one write
 * call, so a kill keeps everything logged before it; a failed write throws a FileWriteError naming the file.
 */
export class TensorBoardLogger implements Logger {
  readonly path: string;
  private readonly file: AppendFile;
  private readonly now: () => number;
  private readonly firstStep: number;

  constructor(opts: TensorBoardLoggerOptions) {
    this.now = opts.now ?? Date.now;
    this.firstStep = opts.resumeStep ?? 0;
    mkdirSync(opts.outDir, { recursive: true });
    // TensorBoard reads a directory's event files in name order: the new file must sort last.
    const seconds = Math.max(Math.floor(this.now() / 1000), newestEventFileSeconds(opts.outDir) + 1);
    this.path = join(opts.outDir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${filesOpened++}`);
    this.file = new AppendFile(this.path, 'wx');
    this.write(fileVersionEvent(this.wallTime()));
    this.write(sessionStartEvent(this.wallTime(), this.firstStep));
  }

  hparams(config: Record<string, unknown>): void {
    const wallTime = this.wallTime();
    this.write(textEvent(wallTime, this.firstStep, 'config', '```json\n' + JSON.stringify(config, null, 2) + '\n```'));
    this.write(hparamsEvent(wallTime, this.firstStep, flattenConfig(config), wallTime));
  }

  scalars(step: number, values: Record<string, number>): void {
    this.write(scalarsEvent(this.wallTime(), step, values));
  }

  image(tag: string, step: number, png: Uint8Array): void {
    this.write(imageEvent(this.wallTime(), step, tag, png));
  }

  text(tag: string, step: number, text: string): void {
    this.write(textEvent(this.wallTime(), step, tag, text));
  }

  async close(): Promise<void> {
    this.file.close(true);
  }

  private wallTime(): number {
    return this.now() / 1000;
  }

  private write(event: Uint8Array): void {
    this.file.write(tfRecord(event));
  }
}

function newestEventFileSeconds(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const m = EVENT_FILE.exec(name);
    if (m) newest = Math.max(newest, Number(m[1]));
  }
  return newest;
}
