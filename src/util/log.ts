// Human-facing logs: pino to stderr (pretty on a TTY, JSON otherwise or with --log-format json) and, for a run,
// to <out>/train.log as JSON lines, written synchronously so a killed run keeps every line.
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';

export function createLog(opts: { file?: string; format?: LogFormat; level?: string } = {}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const streams: pino.StreamEntry[] = [
    {
      level: 'info',
      stream:
        format === 'pretty'
          ? pretty({ destination: 2, sync: true, colorize: !!process.stderr.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss', hideObject: true })
          : pino.destination({ dest: 2, sync: true }),
    },
  ];
  if (opts.file) streams.push({ level: 'debug', stream: pino.destination({ dest: opts.file, sync: true, mkdir: true, append: true }) });
  return pino({ level: opts.level ?? 'debug', base: undefined }, pino.multistream(streams));
}
