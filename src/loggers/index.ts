export type { Logger, LoggerName } from './logger.js';
export { loggerNames, defaultLoggerNames } from './logger.js';
export { createLoggers, parseLoggerNames, type CreateLoggersOptions } from './create.js';
export { loggersConfigSchema, wandbConfigSchema, type LoggersConfig, type WandbConfig } from './config.js';
export { JsonlLogger, METRICS_FILE } from './jsonl.js';
export { TensorBoardLogger } from './tensorboard.js';
export { WandbLogger } from './wandb.js';
export { resolveWandbEnv } from './wandb-env.js';
