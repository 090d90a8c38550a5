import { basename, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { FanoutLogger } from './fanout.js';
import { JsonlLogger } from './jsonl.js';
import { type Logger, type LoggerName, loggerNames } from './logger.js';
import { TensorBoardLogger } from './tensorboard.js';
import { WandbLogger } from './wandb.js';
import { resolveWandbEnv } from './wandb-env.js';

export interface CreateLoggersOptions {
  outDir: string;
  /** Resuming from a checkpoint at this step: jsonl keeps steps < it, TensorBoard hides the old steps >= it. */
  resumeStep?: number;
  wandb?: { project?: string; entity?: string; name?: string; tags?: string[]; group?: string };
  onWarning(message: string): void;
  /** Non-warning news, e.g. the W&B run URL. */
  onInfo?(message: string): void;
  /** Environment to read WANDB_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
  wandbInitTimeoutMs?: number;
  wandbFinishTimeoutMs?: number;
  /**
   * Create only the loggers that write files in outDir ('files': jsonl, tensorboard) or only those that do not
   * ('remote': wandb). A run starts the remote ones before it touches its folder, so a rejected W&B key leaves the
   * folder as it was. Default: all.
   */
  only?: 'files' | 'remote';
}

/** Validates logger names (an array, or comma-separated lists as --loggers gives them); no duplicates. */
export function parseLoggerNames(names: string | readonly string[]): LoggerName[] {
  const list = (typeof names === 'string' ? [names] : names).flatMap((n) => n.split(','))
    .map((n) => n.trim().toLowerCase()).filter(Boolean);
  const unknown = list.filter((n) => !(loggerNames as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new UserError(`Unknown logger ${unknown.map((n) => `"${n}"`).join(', ')}; valid loggers: ${loggerNames.join(', ')}.`);
  }
  return [...new Set(list)] as LoggerName[];
}

/**
 * Builds the loggers the run asked for behind one Logger. Everything a user can get wrong (names,
 * a missing W&B key, an unsupported WANDB_MODE) throws a UserError here, before any file is written.
 */
export async function createLoggers(names: readonly string[], opts: CreateLoggersOptions): Promise<FanoutLogger> {
  const remote = new Set<string>(['wandb']);
  const wanted = parseLoggerNames(names).filter((n) => !opts.only || (opts.only === 'remote') === remote.has(n));
  const wandbEnv = wanted.includes('wandb') ? resolveWandbEnv(opts.env ?? process.env) : undefined;
  const members: Array<{ name: string; logger: Logger }> = [];
  try {
    for (const name of wanted) {
      if (name === 'jsonl') members.push({ name, logger: new JsonlLogger(opts) });
      if (name === 'tensorboard') members.push({ name, logger: new TensorBoardLogger(opts) });
      if (name === 'wandb' && wandbEnv?.mode === 'disabled') {
        opts.onWarning(`W&B logging is off (${wandbEnv.reason}).`);
      } else if (name === 'wandb' && wandbEnv?.mode === 'online') {
        const w = opts.wandb ?? {};
        const logger = new WandbLogger({
          run: {
            project: w.project ?? 'dinotrain',
            entity: w.entity,
            name: w.name ?? basename(resolve(opts.outDir)),
            tags: w.tags ?? [],
            group: w.group,
          },
          apiKey: wandbEnv.apiKey,
          baseUrl: wandbEnv.baseUrl,
          onWarning: opts.onWarning,
          onInfo: opts.onInfo,
          initTimeoutMs: opts.wandbInitTimeoutMs,
          finishTimeoutMs: opts.wandbFinishTimeoutMs,
        });
        members.push({ name, logger });
      }
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.logger.close().catch(() => {})));
    throw err;
  }
  return new FanoutLogger(members, opts.onWarning);
}
