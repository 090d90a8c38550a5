// Where a path inside the image lands in a replay. Only the absolute paths the Dockerfile itself names as image
// locations are moved: its WORKDIRs, its COPY destinations and its COPY --from sources (and what lies under them).
// Every other absolute path belongs to the base image, which the replay does not reproduce.
import { posix } from 'node:path';
import type { Stage } from './dockerfile-parse.js';

/** The image locations a Dockerfile names, resolved against the WORKDIR they follow, longest first. */
export function imageLocations(stages: Stage[]): string[] {
  const found = new Set<string>();
  for (const stage of stages) {
    let workdir = '/';
    for (const ins of stage.instructions) {
      if (ins.kind === 'WORKDIR') {
        workdir = posix.resolve(workdir, ins.path);
        found.add(workdir);
      } else if (ins.kind === 'COPY') {
        found.add(posix.resolve(workdir, ins.dest));
        if (ins.from !== undefined) for (const s of ins.sources) found.add(posix.resolve('/', s));
      }
    }
  }
  found.delete('/');
  return [...found].sort((a, b) => b.length - a.length);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Rewrites, in a word or a shell command, every absolute path at or under an image location to lie under `root`. */
export function pathRewriter(locations: string[], root: string): (text: string) => string {
  if (!/^[\w./-]+$/.test(root)) throw new Error(`replay folder ${root} has characters a shell command would split`);
  if (locations.length === 0) return (text) => text;
  const pattern = new RegExp(`(?<=^|[\\s"'=:;(])(?:${locations.map(escape).join('|')})(?=$|[/\\s"';:)&|])`, 'g');
  return (text) => text.replace(pattern, (p) => posix.join(root, p));
}

/** Absolute paths in a shell command that are not image locations (nor /dev/null): the base image's, not replayable. */
export function foreignPaths(command: string, locations: string[]): string[] {
  const paths = command.match(/(?<=^|[\s"'=:;(])\/[^\s"';&|)]*/g) ?? [];
  return paths.filter((p) => p !== '/dev/null' && !locations.some((l) => p === l || p.startsWith(`${l}/`)));
}
