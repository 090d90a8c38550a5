#!/usr/bin/env node
// Launcher: the compiled CLI in dist/ (built by `npm ci` via the prepare script, or `npm run build`).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('dinotrain: dist/ is missing; run `npm run build` in the dinotrain folder first\n');
  process.exit(1);
}
const { main } = await import(compiled.href);
process.exitCode = await main(process.argv);
