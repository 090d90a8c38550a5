// Reads a GitHub Actions workflow: its jobs' steps and the commands their `run:` scripts execute, as words.
import { parse } from 'yaml';

export interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

export interface Job {
  'runs-on': unknown;
  env?: Record<string, unknown>;
  steps: Step[];
}

export interface Workflow {
  on: unknown;
  jobs: Record<string, Job>;
}

/** Parses strictly: a duplicate key or a YAML error throws. */
export function parseWorkflow(text: string): Workflow {
  return parse(text, { uniqueKeys: true, prettyErrors: true, strict: true }) as Workflow;
}

/** Shell words, with '...' and "..." grouping; ${{ }} expressions are kept whole. */
export function shellWords(command: string): string[] {
  return (command.match(/\$\{\{.*?\}\}|'[^']*'|"[^"]*"|\S+/g) ?? []).map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
}

/** The simple commands of a `run:` script: lines (with `\` continuations joined) split at &&, || and ;. */
export function runCommands(script: string): string[][] {
  return script
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .flatMap((l) => l.split(/&&|\|\||;/))
    .map(shellWords)
    .filter((w) => w.length > 0);
}

/** The long and short flags a commander `--help` lists, `--no-x` included. */
export function helpFlags(help: string): Set<string> {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s+(-\S.*?)(?:\s{2,}|$)/.exec(line);
    if (m) for (const f of m[1].match(/--?[a-zA-Z][\w-]*/g) ?? []) flags.add(f);
  }
  return flags;
}

/** The value after a flag (`--out DIR` or `--out=DIR`). */
export function flagValue(words: string[], flag: string): string | undefined {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === flag) return words[i + 1];
    if (words[i].startsWith(`${flag}=`)) return words[i].slice(flag.length + 1);
  }
  return undefined;
}
