import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Version of an installed package (or of dinotrain itself when name is omitted). */
export function packageVersion(name?: string): string {
  try {
    const path = name ? packageJsonOf(name) : new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A package's package.json, also for packages whose "exports" map hides it (sharp). */
function packageJsonOf(name: string): string {
  try {
    return require.resolve(`${name}/package.json`);
  } catch {
    let dir = dirname(require.resolve(name));
    while (!existsSync(join(dir, 'package.json')) || !dir.includes(name)) {
      const up = dirname(dir);
      if (up === dir) throw new Error(`no package.json for ${name}`);
      dir = up;
    }
    return join(dir, 'package.json');
  }
}

export const dinotrainVersion = packageVersion();
