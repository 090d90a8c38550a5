import { UserError } from '../util/errors.js';
import { netrcPassword } from './netrc.js';

export type WandbEnv =
  | { mode: 'disabled'; reason: string }
  | { mode: 'online'; apiKey: string; baseUrl: string };

const DEFAULT_BASE_URL = 'https://api.wandb.ai';

/**
 * Reads WANDB_MODE / WANDB_DISABLED / WANDB_API_KEY / WANDB_BASE_URL (and ~/.netrc) and decides,
 * before any training, whether W&B can run. The JS SDK has no offline mode, so "offline" is refused.
 */
export function resolveWandbEnv(env: NodeJS.ProcessEnv = process.env): WandbEnv {
  const disabledFlag = (env.WANDB_DISABLED ?? '').trim().toLowerCase();
  if (disabledFlag === 'true' || disabledFlag === '1') return { mode: 'disabled', reason: 'WANDB_DISABLED=true' };
  const mode = (env.WANDB_MODE ?? '').trim().toLowerCase();
  if (mode === 'disabled') return { mode: 'disabled', reason: 'WANDB_MODE=disabled' };
  if (mode === 'offline' || mode === 'dryrun') {
    throw new UserError(
      `WANDB_MODE=${mode} is not supported: the W&B JavaScript SDK can only log online. ` +
        'Set WANDB_MODE=online (the default) or WANDB_MODE=disabled; metrics.jsonl and the TensorBoard ' +
        'events hold every metric either way.',
    );
  }
  if (mode !== '' && mode !== 'online' && mode !== 'run') {
    throw new UserError(`WANDB_MODE="${env.WANDB_MODE}" is not supported; use online or disabled.`);
  }
  const baseUrl = (env.WANDB_BASE_URL || DEFAULT_BASE_URL).replace(/\/+$/, '');
  const host = baseUrl.split('://').pop()!.split('/')[0]!;
  const apiKey = env.WANDB_API_KEY?.trim() || netrcPassword(host, env);
  if (!apiKey) {
    throw new UserError(
      'The wandb logger needs a W&B API key: set WANDB_API_KEY (see https://wandb.ai/authorize), ' +
        'or set WANDB_MODE=disabled to turn W&B off, or leave wandb out of --loggers.',
    );
  }
  return { mode: 'online', apiKey, baseUrl };
}
