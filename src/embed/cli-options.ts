// Flag parsers for `dinotrain embed` and `dinotrain eval`.
import { UserError } from '../util/errors.js';

export const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--${name}: expected a positive integer, got '${v}'`);
  return n;
};

export const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`--${name}: expected a positive number, got '${v}'`);
  return n;
};

/** "0.5,0.5,0.5" or "[0.5, 0.5, 0.5]" -> three numbers. */
export const rgbTriple = (name: string) => (v: string) => {
  const parts = v.replace(/^\s*\[|\]\s*$/g, '').split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) throw new UserError(`--${name}: expected three numbers like 0.485,0.456,0.406, got '${v}'`);
  return parts;
};
