// Parses the Dockerfile instructions the replay (dockerfile-replay.ts) knows: FROM, WORKDIR, ENV, COPY (with --from),
// RUN, ENTRYPOINT, CMD, plus LABEL and EXPOSE, which change no file. Anything else (ARG, USER, ADD, variables in paths,
// COPY --chown, wildcards...) is refused with its line number, so a Dockerfile the replay cannot follow fails loudly
// instead of being half-replayed.

/** A command in exec form (JSON array, run without a shell) or shell form (run by `/bin/sh -c`). */
export type Command = { exec: string[] } | { shell: string };

export type Instruction =
  | { kind: 'WORKDIR'; line: number; path: string }
  | { kind: 'ENV'; line: number; vars: [string, string][] }
  | { kind: 'COPY'; line: number; from?: string; sources: string[]; dest: string }
  | { kind: 'RUN' | 'ENTRYPOINT' | 'CMD'; line: number; command: Command };

export interface Stage {
  line: number;
  /** The image after FROM. */
  base: string;
  /** The name after AS, if any. */
  name?: string;
  instructions: Instruction[];
}

export class DockerfileError extends Error {}

/** Logical lines: comments dropped, `\` continuations joined; each with the line it starts on. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    if (/^\s*#/.test(raw)) return; // comments, also inside a continued instruction
    if (!current && raw.trim() === '') return;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (current) current.text += part;
    else current = { line: i + 1, text: part };
    if (!continued) {
      out.push({ line: current.line, text: current.text.trim() });
      current = undefined;
    }
  });
  if (current) throw new DockerfileError(`line ${current.line}: the file ends inside a continued instruction`);
  return out;
}

function parseCommand(args: string): Command {
  if (args.startsWith('[')) {
    try {
      const exec: unknown = JSON.parse(args);
      if (Array.isArray(exec) && exec.every((a) => typeof a === 'string')) return { exec };
    } catch {
      // not JSON: Docker runs it as a shell command too
    }
  }
  return { shell: args };
}

/** Whitespace-separated words; double or single quotes group, a backslash escapes the next character. */
function words(text: string, line: number): string[] {
  const out: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new DockerfileError(`line ${line}: unterminated ${c}`);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) out.push(word);
  return out;
}

function noVariables(text: string, line: number, keyword: string): void {
  if (text.includes('$')) throw new DockerfileError(`line ${line}: ${keyword} with a variable is not handled by the replay`);
}

function parseEnv(args: string, line: number): [string, string][] {
  noVariables(args, line, 'ENV');
  const parts = words(args, line);
  if (parts.length >= 1 && !parts[0].includes('=')) {
    // legacy form: ENV KEY the rest of the line
    return [[parts[0], args.slice(args.indexOf(parts[0]) + parts[0].length).trim()]];
  }
  return parts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new DockerfileError(`line ${line}: ENV expects KEY=VALUE, got ${p}`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

function parseCopy(args: string, line: number): Instruction {
  noVariables(args, line, 'COPY');
  const parts = args.startsWith('[') ? (parseCommand(args) as { exec?: string[] }).exec : undefined;
  const list = parts ?? words(args, line);
  let from: string | undefined;
  while (list.length && list[0].startsWith('--')) {
    const flag = list.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (flag !== '--link') throw new DockerfileError(`line ${line}: COPY ${flag} is not handled by the replay`);
  }
  if (list.length < 2) throw new DockerfileError(`line ${line}: COPY needs a source and a destination`);
  const dest = list.pop()!;
  for (const s of list) {
    if (/[*?[]/.test(s)) throw new DockerfileError(`line ${line}: COPY wildcard ${s} is not handled by the replay`);
  }
  return { kind: 'COPY', line, from, sources: list, dest };
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { line, text: full } of logicalLines(text)) {
    const match = /^(\S+)\s*(.*)$/s.exec(full)!;
    const keyword = match[1].toUpperCase();
    const args = match[2].trim();
    if (keyword === 'FROM') {
      const parts = words(args, line);
      if (parts[0]?.startsWith('--')) throw new DockerfileError(`line ${line}: FROM ${parts[0]} is not handled by the replay`);
      if (parts.length !== 1 && !(parts.length === 3 && parts[1].toUpperCase() === 'AS')) {
        throw new DockerfileError(`line ${line}: FROM expects IMAGE [AS NAME]`);
      }
      stages.push({ line, base: parts[0], name: parts[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new DockerfileError(`line ${line}: ${keyword} before the first FROM`);
    switch (keyword) {
      case 'WORKDIR':
        noVariables(args, line, 'WORKDIR');
        stage.instructions.push({ kind: 'WORKDIR', line, path: args });
        break;
      case 'ENV':
        stage.instructions.push({ kind: 'ENV', line, vars: parseEnv(args, line) });
        break;
      case 'COPY':
        stage.instructions.push(parseCopy(args, line));
        break;
      case 'RUN':
      case 'ENTRYPOINT':
      case 'CMD':
        stage.instructions.push({ kind: keyword, line, command: parseCommand(args) });
        break;
      case 'LABEL':
      case 'EXPOSE':
        break; // metadata: no file, no process
      default:
        throw new DockerfileError(`line ${line}: ${keyword} is not handled by the replay`);
    }
  }
  if (stages.length === 0) throw new DockerfileError('no FROM');
  return stages;
}

/** The stage a COPY --from or a FROM names: by AS name or by index. */
export function findStage(stages: Stage[], ref: string, before: number): number {
  const i = /^\d+$/.test(ref) ? Number(ref) : stages.findIndex((s) => s.name?.toLowerCase() === ref.toLowerCase());
  return i >= 0 && i < before ? i : -1;
}
