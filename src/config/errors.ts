// Turns zod issues into one line per problem that names the key and says what is allowed.
import type { z } from 'zod';

export function formatIssues(issues: z.core.$ZodIssue[], schema: z.ZodType, input?: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const valid = keysAt(schema, issue.path.map(String));
      for (const key of issue.keys) {
        const name = at ? `${at}.${key}` : key;
        lines.push(`${name}: unknown key${valid.length ? `; valid keys here: ${valid.join(', ')}` : ''}`);
      }
      continue;
    }
    if (issue.code === 'invalid_value') {
      const got = valueAt(input, issue.path);
      const shown = got === undefined ? '' : `, got ${JSON.stringify(got)}`;
      lines.push(`${at}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${shown}`);
      continue;
    }
    if (issue.code === 'invalid_type' && issue.path.length === 1 && valueAt(input, issue.path) === undefined) {
      // a required top-level setting: say it the way a person sets it
      lines.push(`--${at.replace(/_/g, '-')} is required (or \`${at}:\` in the --config file)`);
      continue;
    }
    lines.push(`${at || '(config)'}: ${issue.message}`);
  }
  return lines;
}

/** Keys of the object schema found by walking `path` (through optional/default/union wrappers). */
function keysAt(schema: z.ZodType, path: string[]): string[] {
  let s: unknown = schema;
  for (const key of [...path, null]) {
    s = unwrap(s);
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    if (!shape) return [];
    if (key === null) return Object.keys(shape);
    s = shape[key];
  }
  return [];
}

function unwrap(s: unknown): unknown {
  for (let i = 0; i < 8; i++) {
    const def = (s as { def?: { innerType?: unknown; type?: string } })?.def;
    if (def?.innerType) s = def.innerType;
    else break;
  }
  return s;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur = input;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}
