// Symbolic dims. A dim is a number or a monomial string: an optional integer coefficient times names, written
// canonically as '2*N' or 'N*T' (names sorted). That is enough for reshape [N,T,D] -> [N*T,D] and back,
// concatenating along the batch ('N' + 'N' = '2*N') and splitting it again.

import type { Dim, Shape } from './types.js';

interface Monomial {
  coef: number;
  syms: string[];
}

function parse(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*').map((p) => p.trim())) {
    if (/^\d+$/.test(part)) coef *= Number(part);
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) syms.push(part);
    else throw new Error(`bad symbolic dim '${d}'`);
  }
  return { coef, syms: syms.sort() };
}

function format(m: Monomial): Dim {
  if (m.syms.length === 0 || m.coef === 0) return m.coef;
  return m.coef === 1 ? m.syms.join('*') : `${m.coef}*${m.syms.join('*')}`;
}

/** Canonical form of a dim ('N*2' -> '2*N'). */
export const canon = (d: Dim): Dim => format(parse(d));
export const isStatic = (d: Dim): d is number => typeof d === 'number';
export const isStaticShape = (s: Shape): s is readonly number[] => s.every(isStatic);
export const dimEq = (a: Dim, b: Dim): boolean => canon(a) === canon(b);
export const shapeEq = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => dimEq(d, b[i]));
export const fmtShape = (s: Shape): string => `[${s.join(',')}]`;

export function dimMul(a: Dim, b: Dim): Dim {
  const x = parse(a), y = parse(b);
  return format({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** a / b, or undefined when it is not an exact monomial. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const x = parse(a), y = parse(b);
  if (y.coef === 0 || x.coef % y.coef !== 0) return undefined;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return format({ coef: x.coef / y.coef, syms });
}

/** a + b, defined when both have the same names (or both are static). */
export function dimAdd(a: Dim, b: Dim): Dim | undefined {
  const x = parse(a), y = parse(b);
  if (x.coef === 0) return b;
  if (y.coef === 0) return a;
  if (x.syms.join('*') !== y.syms.join('*')) return undefined;
  return format({ coef: x.coef + y.coef, syms: x.syms });
}

export const numel = (s: Shape): Dim => s.reduce<Dim>((a, d) => dimMul(a, d), 1);

/** The names in a dim with their multiplicity, and its coefficient. */
export function factors(d: Dim): { coef: number; syms: string[] } {
  return parse(d);
}

/** numpy broadcasting; equal names broadcast, 1 broadcasts against anything. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const n = Math.max(a.length, b.length);
  const r: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x === 1) r.push(canon(y));
    else if (y === 1 || dimEq(x, y)) r.push(canon(x));
    else throw new Error(`cannot broadcast ${fmtShape(a)} with ${fmtShape(b)}`);
  }
  return r;
}

/** Normalises a possibly negative axis. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}
