import type { HParamValue } from './tf-event.js';

/**
 * Flattens a nested config into dotted keys with values TensorBoard's hparams plugin accepts
 * (number, string, bool). Arrays become JSON strings; null and undefined are left out.
 */
export function flattenConfig(config: Record<string, unknown>, prefix = ''): Record<string, HParamValue> {
  const out: Record<string, HParamValue> = {};
  for (const [key, value] of Object.entries(config)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value === null || value === undefined) continue;
    if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') out[name] = value;
    else if (Array.isArray(value)) out[name] = JSON.stringify(value);
    else if (typeof value === 'object') Object.assign(out, flattenConfig(value as Record<string, unknown>, name));
    else out[name] = String(value);
  }
  return out;
}
