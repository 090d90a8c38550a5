/** What the trainer talks to; it knows nothing of file formats or services. */
export interface Logger {
  /** The resolved config, once at the start (W&B starts its run here). */
  hparams(config: Record<string, unknown>): void | Promise<void>;
  /** The metrics of one logged step. */
  scalars(step: number, values: Record<string, number>): void;
  /** A PNG, e.g. a grid of augmented views at step 0. */
  image(tag: string, step: number, png: Uint8Array): void;
  text?(tag: string, step: number, text: string): void;
  /** Flushes and releases everything; returns within a bounded time. */
  close(): Promise<void>;
}

export const loggerNames = ['jsonl', 'tensorboard', 'wandb'] as const;
export type LoggerName = (typeof loggerNames)[number];
export const defaultLoggerNames: LoggerName[] = ['jsonl', 'tensorboard'];
