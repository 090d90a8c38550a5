import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The password of `machine <host>` in ~/.netrc (where `wandb login` stores the W&B key), if any. */
export function netrcPassword(host: string, env: NodeJS.ProcessEnv): string | undefined {
  const path = env.NETRC ?? (env.HOME ? join(env.HOME, '.netrc') : undefined);
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const tokens = text.split(/\s+/).filter(Boolean);
  let machine: string | undefined;
  for (let i = 0; i < tokens.length - 1; i++) {
    if (tokens[i] === 'machine') machine = tokens[i + 1];
    else if (tokens[i] === 'default') machine = host;
    else if (tokens[i] === 'password' && machine === host) return tokens[i + 1];
  }
  return undefined;
}
