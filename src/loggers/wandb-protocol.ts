// Messages between WandbLogger (training process) and wandb-worker (child process running @wandb/sdk).

export interface WandbRunSettings {
  project: string;
  entity?: string;
  name?: string;
  tags: string[];
  group?: string;
}

export type ToWorker =
  | { type: 'init'; run: WandbRunSettings; config: Record<string, unknown> }
  | { type: 'log'; step: number; values: Record<string, number> }
  | { type: 'finish'; exitCode: number };

export type FromWorker =
  | { type: 'ready'; url: string; id: string }
  | { type: 'init-failed'; reason: string; httpStatus?: number }
  | { type: 'warning'; message: string }
  /** An error the worker cannot go on after; it exits right after sending this. */
  | { type: 'fatal'; message: string }
  | { type: 'finished' };
