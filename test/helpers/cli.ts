// Runs the dinotrain CLI from source (tests spawn it as `node --import tsx test/helpers/cli.ts ARGS`).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
