// Child process that owns @wandb/sdk (forked by WandbLogger). The SDK can throw uncaught errors,
// hang in finish(), install signal handlers and keep its process alive: all of that stays here.
// The training process decides when this ends: SIGINT/SIGTERM are ignored, a closed IPC channel
// (the parent is gone) finishes the run as failed and exits.
import dc from 'node:diagnostics_channel';
import type { FromWorker, ToWorker, WandbRunSettings } from './wandb-protocol.js';

type Sdk = (typeof import('@wandb/sdk'))['default'];
type Run = Awaited<ReturnType<Sdk['init']>>;

const WARNING_INTERVAL_MS = 30_000;
const ORPHAN_FINISH_MS = 10_000;
const TAGS_TIMEOUT_MS = 15_000;

let state: 'idle' | 'initializing' | 'running' | 'finishing' = 'idle';
let run: Run | null = null;
let initDone: Promise<void> | null = null;
const queued: Array<Extract<ToWorker, { type: 'log' }>> = [];
let lastProblem: string | undefined;
let lastHttpStatus: number | undefined;

function send(msg: FromWorker, then?: () => void): void {
  if (!process.connected) {
    then?.();
    return;
  }
  process.send!(msg, undefined, {}, () => then?.());
}

function exitAfter(msg: FromWorker, code: number): void {
  const timer = setTimeout(() => process.exit(code), 2_000);
  send(msg, () => {
    clearTimeout(timer);
    process.exit(code);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Network trouble becomes throttled warnings: the first at once, then at most one per interval.
let problemsSinceWarning = 0;
let lastWarningAt = 0;
function reportProblem(problem: string): void {
  lastProblem = problem;
  if (state !== 'running' && state !== 'finishing') return; // during init it goes into init-failed
  problemsSinceWarning++;
  const now = Date.now();
  if (now - lastWarningAt < WARNING_INTERVAL_MS) return;
  const more = problemsSinceWarning > 1 ? ` (${problemsSinceWarning - 1} more since the last warning)` : '';
  send({ type: 'warning', message: `W&B: ${problem}${more}` });
  problemsSinceWarning = 0;
  lastWarningAt = now;
}

dc.subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as { request: { method: string; path: string }; response: { statusCode: number } };
  lastHttpStatus = response.statusCode;
  if (response.statusCode >= 400) {
    reportProblem(`the server answered HTTP ${response.statusCode} to ${request.method} ${request.path.split('?')[0]}`);
  }
});
dc.subscribe('http.client.request.error', (message) => {
  const { error } = message as { error: Error & { code?: string } };
  reportProblem(`a request failed (${error.code ?? error.message})`);
});

function fatal(err: unknown): void {
  const reason = describe(err);
  if (state === 'initializing') exitAfter({ type: 'init-failed', reason, httpStatus: lastHttpStatus }, 1);
  else exitAfter({ type: 'fatal', message: reason }, 1);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
const ignoreSignal = (): void => {};
process.on('SIGINT', ignoreSignal);
process.on('SIGTERM', ignoreSignal);

/** The SDK adds SIGINT/SIGTERM/beforeExit handlers on init (and never removes them): drop them. */
function withoutSdkProcessHandlers<T>(action: () => Promise<T>): Promise<T> {
  type Listener = (...args: unknown[]) => void;
  const events: string[] = ['SIGINT', 'SIGTERM', 'beforeExit'];
  const listeners = (e: string): Listener[] => process.listeners(e as 'beforeExit') as Listener[];
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const restore = (): void => {
    for (const e of events) {
      for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e, l);
    }
  };
  return action().finally(restore);
}

function authHeader(): string {
  return `Basic ${Buffer.from(`api:${process.env.WANDB_API_KEY ?? ''}`).toString('base64')}`;
}

/** The SDK drops tags and group; set them with the same UpsertBucket mutation the W&B API offers. */
async function setTagsAndGroup(r: Run, settings: WandbRunSettings): Promise<void> {
  if (settings.tags.length === 0 && !settings.group) return;
  const query =
    'mutation UpsertBucket($name: String, $project: String, $entity: String, $groupName: String, $tags: [String!]) ' +
    '{ upsertBucket(input: { name: $name, modelName: $project, entityName: $entity, groupName: $groupName, tags: $tags }) ' +
    '{ bucket { id } } }';
  const variables = { name: r.id, project: r.project, entity: r.entity, tags: settings.tags, groupName: settings.group };
  try {
    const res = await fetch(`${r.settings.baseUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: authHeader() },
      body: JSON.stringify({ operationName: 'UpsertBucket', query, variables }),
      signal: AbortSignal.timeout(TAGS_TIMEOUT_MS),
    });
    const body = (await res.json()) as { errors?: Array<{ message: string }> };
    if (!res.ok || body.errors?.length) {
      throw new Error(body.errors?.[0]?.message ?? `HTTP ${res.status}`);
    }
  } catch (err) {
    send({ type: 'warning', message: `W&B: could not set the run's tags/group (${describe(err)})` });
  }
}

async function init(settings: WandbRunSettings, config: Record<string, unknown>): Promise<void> {
  state = 'initializing';
  const { default: wandb } = await import('@wandb/sdk');
  const baseUrl = process.env.WANDB_BASE_URL || 'https://api.wandb.ai';
  const apiKey = process.env.WANDB_API_KEY ?? '';
  try {
    run = await withoutSdkProcessHandlers(() =>
      wandb.init({
        project: settings.project,
        entity: settings.entity,
        name: settings.name,
        config,
        settings: { apiKey, baseUrl, silent: true },
      }),
    );
  } catch (err) {
    const why = lastProblem ? `${describe(err)}; ${lastProblem}` : describe(err);
    exitAfter({ type: 'init-failed', reason: why, httpStatus: lastHttpStatus }, 1);
    return new Promise(() => {}); // exiting
  }
  await setTagsAndGroup(run, settings);
  state = 'running';
  for (const m of queued.splice(0)) run.log({ ...m.values }, m.step);
  send({ type: 'ready', url: run.url(), id: run.id });
}

async function finish(exitCode: number): Promise<never> {
  if (state === 'finishing') return new Promise<never>(() => {});
  const wasInitializing = initDone;
  state = 'finishing';
  if (wasInitializing) await wasInitializing;
  if (run) await run.finish(exitCode);
  exitAfter({ type: 'finished' }, 0);
  return new Promise<never>(() => {});
}

process.on('message', (raw) => {
  const msg = raw as ToWorker;
  if (msg.type === 'init') {
    if (initDone === null) initDone = init(msg.run, msg.config);
  } else if (msg.type === 'log') {
    if (state === 'running' && run) run.log({ ...msg.values }, msg.step);
    else if (state === 'idle' || state === 'initializing') queued.push(msg);
  } else if (msg.type === 'finish') {
    void finish(msg.exitCode);
  }
});

// The training process is gone without saying finish: mark the run failed, within a bound.
process.on('disconnect', () => {
  if (state === 'finishing') return;
  setTimeout(() => process.exit(1), ORPHAN_FINISH_MS).unref();
  void finish(1);
});
