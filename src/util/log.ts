// Human-facing logs: pino to stderr (pretty on a TTY, JSON otherwise or with --log-format json) and, once a run has
// its folder, to <out>/train.log as JSON lines, written synchronously so a killed run keeps every line. train.log is
// a copy of what stderr shows: when it cannot be written (a full disk) that is said once and the run goes on.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { AppendFile } from './write-file.js';

export type LogFormat = 'pretty' | 'json';

const streams = new WeakMap<Logger, pino.MultiStreamRes<string>>();

export function createLog(opts: { file?: string; format?: LogFormat; level?: string } = {}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const multi: pino.MultiStreamRes<string> = pino.multistream<string>([
    {
      level: 'info',
      stream:
        format === 'pretty'
          ? pretty({ destination: 2, sync: true, colorize: !!process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss', hideObject: true })
          : pino.destination({ dest: 2, sync: true }),
    },
  ]);
  const log = pino({ level: opts.level ?? 'debug', base: undefined }, multi);
  streams.set(log, multi);
  if (opts.file) logToFile(log, opts.file);
  return log;
}

/** From now on `log` also appends every line (debug and up) to `path`. */
export function logToFile(log: Logger, path: string): void {
  const file = new AppendFile(path, 'a');
  let broken = false;
  const stream = {
    write(line: string) {
      if (broken) return;
      try {
        file.write(line);
      } catch (err) {
        broken = true;
        process.stderr.write(`dinotrain: warning: ${(err as Error).message}; ${path} stops here, the log goes on on stderr\n`);
      }
    },
  };
  streams.get(log)!.add({ level: 'debug', stream });
}
