// A loopback stand-in for the parts of the W&B API that @wandb/sdk 0.5 uses (port of
// shared/probes/ecosystem/fake-wandb-server.mjs), with failure modes for tests:
//   POST /graphql                                 Viewer, UpsertBucket
//   POST /files/{entity}/{project}/{run}/file_stream  history rows, summary, completion
import http from 'node:http';
import type { Socket } from 'node:net';

export interface FakeRun {
  entity?: string;
  project?: string;
  displayName?: string;
  config?: Record<string, unknown>;
  tags?: string[];
  groupName?: string;
  history: Array<Record<string, unknown>>;
  summary: Record<string, unknown>;
  complete: boolean;
  exitcode: number | null;
}

export interface FakeCall {
  method: string;
  path: string;
  auth?: string;
  body: unknown;
}

/** What to do with the n-th (0-based) request of a kind: answer, fail with a status, drop the connection, or never answer. */
export type Behaviour = 'ok' | number | 'destroy' | 'hang';

export interface FakeWandbOptions {
  entity?: string;
  viewer?: (n: number) => Behaviour;
  upsert?: (n: number) => Behaviour;
  fileStream?: (n: number) => Behaviour;
}

export interface FakeWandb {
  url: string;
  calls: FakeCall[];
  runs: Record<string, FakeRun>;
  close(): Promise<void>;
}

export async function startFakeWandb(opts: FakeWandbOptions = {}): Promise<FakeWandb> {
  const entity = opts.entity ?? 'fake-entity';
  const calls: FakeCall[] = [];
  const runs: Record<string, FakeRun> = {};
  const sockets = new Set<Socket>();
  const counts = { viewer: 0, upsert: 0, fileStream: 0 };
  const runOf = (id: string): FakeRun =>
    (runs[id] ??= { history: [], summary: {}, complete: false, exitcode: null });

  const json = (res: http.ServerResponse, code: number, obj: unknown): void => {
    const body = JSON.stringify(obj);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  /** Applies a failure behaviour; true when the request was handled (failed) here. */
  const misbehave = (b: Behaviour, req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (b === 'ok') return false;
    if (b === 'destroy') req.socket.destroy();
    else if (typeof b === 'number') json(res, b, { error: `fake: status ${b}` });
    return true; // 'hang': never answered
  };

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      raw += c;
    });
    req.on('end', () => {
      let body: any = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const url = req.url ?? '';
      calls.push({ method: req.method ?? '', path: url, auth: req.headers.authorization, body });

      if (req.method === 'POST' && url === '/graphql') {
        const op = body?.operationName as string | undefined;
        const v = body?.variables ?? {};
        if (op === 'Viewer') {
          if (misbehave(opts.viewer?.(counts.viewer++) ?? 'ok', req, res)) return;
          return json(res, 200, { data: { viewer: { id: 'VXNlcjox', entity, flags: '{}', teams: { edges: [] } } } });
        }
        if (op === 'UpsertBucket') {
          if (misbehave(opts.upsert?.(counts.upsert++) ?? 'ok', req, res)) return;
          const r = runOf(v.name);
          // An upsert updates only the fields it carries.
          if (v.entity !== undefined) r.entity = v.entity;
          if (v.project !== undefined) r.project = v.project;
          if (v.displayName !== undefined) r.displayName = v.displayName;
          if (v.config !== undefined) r.config = JSON.parse(v.config);
          if (v.tags !== undefined) r.tags = v.tags;
          if (v.groupName !== undefined) r.groupName = v.groupName;
          return json(res, 200, {
            data: {
              upsertBucket: {
                inserted: true,
                bucket: {
                  id: `run-${v.name}`, name: v.name, displayName: r.displayName ?? v.name, description: null,
                  config: v.config ?? '{}', sweepName: null,
                  project: { id: `proj-${v.project}`, name: v.project, entity: { id: 'ent', name: v.entity } },
                },
              },
            },
          });
        }
        return json(res, 200, { data: {}, errors: [{ message: `fake: unknown op ${op}` }] });
      }

      const m = /^\/files\/([^/]*)\/([^/]*)\/([^/]*)\/file_stream$/.exec(url);
      if (req.method === 'POST' && m) {
        if (misbehave(opts.fileStream?.(counts.fileStream++) ?? 'ok', req, res)) return;
        const r = runOf(m[3]!);
        const files = body?.files ?? {};
        const h = files['wandb-history.jsonl'];
        if (h) h.content.forEach((line: string, i: number) => { r.history[h.offset + i] = JSON.parse(line); });
        const s = files['wandb-summary.json'];
        if (s) r.summary = JSON.parse(s.content[s.content.length - 1]);
        if (body?.complete) {
          r.complete = true;
          r.exitcode = body.exitcode;
        }
        return json(res, 200, { exitcode: null, limits: {} });
      }
      return json(res, 404, { error: `fake: no route ${req.method} ${url}` });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    runs,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        sockets.forEach((s) => s.destroy());
      }),
  };
}
