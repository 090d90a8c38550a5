// The dinotrain program: one subcommand per file; errors a user can cause print one clear message.
import { Command, CommanderError } from '@commander-js/extra-typings';
import { methodNames } from '../methods/index.js';
import { UserError } from '../util/errors.js';
import { dinotrainVersion } from '../util/version.js';
import { doctorCommand } from './doctor.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { pretrainCommand } from './pretrain.js';
import { previewCommand } from './preview.js';

export function buildProgram() {
  const program = new Command('dinotrain')
    .description(`Self-supervised pretraining of vision backbones (${methodNames.join(', ')}) on ONNX Runtime`)
    .version(dinotrainVersion)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(pretrainCommand());
  program.addCommand(previewCommand());
  program.addCommand(embedCommand());
  program.addCommand(exportCommand());
  program.addCommand(evalCommand());
  program.addCommand(doctorCommand());
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    // a command may set a non-zero exit code without throwing (e.g. 130 after a checkpoint on SIGINT)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (or the help text)
    return e.exitCode === 0 ? 0 : e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
  }
  if (e instanceof UserError) {
    process.stderr.write(`dinotrain: ${e.message}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  process.stderr.write(`dinotrain: internal error: ${err?.message ?? String(e)}\n`);
  if (process.env.DINOTRAIN_DEBUG) process.stderr.write(`${err?.stack}\n`);
  else process.stderr.write('(set DINOTRAIN_DEBUG=1 for the stack trace; please report it)\n');
  return 1;
}
