// The methods dinotrain trains: the one list that config validation, --help, preview, export, resume and training
// read. A new method is a folder beside these with its definition, plus one line here.
import { UserError } from '../util/errors.js';
import type { MethodDefinition } from './definition.js';
import { dino } from './dino/index.js';
import { dinov2 } from './dinov2/index.js';
import { distillation } from './distillation/index.js';
import { simclr } from './simclr/index.js';

export const METHODS: readonly MethodDefinition[] = [dino, dinov2, simclr, distillation];

export const methodNames = METHODS.map((m) => m.name);

/** The method a config without `method` trains: the first of the list. */
export const DEFAULT_METHOD = METHODS[0].name;

/** The definition of a method by name; a UserError listing the valid names otherwise. */
export function methodNamed(name: string, where = 'method'): MethodDefinition {
  const m = METHODS.find((d) => d.name === name);
  if (!m) throw new UserError(`${where}: unknown method '${name}'; valid methods: ${methodNames.join(', ')}`);
  return m;
}
