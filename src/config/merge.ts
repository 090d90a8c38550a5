/**
 * Plain-object deep merge into a new object: `over` wins; arrays and non-plain values are replaced, not merged;
 * `undefined` in `over` keeps the base value. The result shares nothing with its inputs (presets stay untouched).
 */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over === undefined ? base : over) as T;
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  }
  return out as T;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
