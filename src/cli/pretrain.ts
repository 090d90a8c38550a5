// `dinotrain pretrain`: flags and config file → resolved config → the trainer.
import { Command, Option } from '@commander-js/extra-typings';
import YAML from 'yaml';
import { DEFAULT_EPOCHS, readConfigFile, resolvePretrainConfig, RUN_DEFAULTS } from '../config/load.js';
import { DEFAULT_METHOD, METHODS, methodNamed, methodNames } from '../methods/index.js';
import { devices } from '../engine/providers.js';
import type { PretrainConfig } from '../config/schema.js';
import { UserError } from '../util/errors.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UserError(`--${name}: expected an integer, got '${v}'`);
  return n;
};
const workers = (v: string): number | 'auto' => (v === 'auto' ? 'auto' : int('augment-workers')(v));
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`--${name}: expected a number, got '${v}'`);
  return n;
};

function parseValData(v: string): { train: string; val: string } {
  const parts = Object.fromEntries(v.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  if (!parts.train || !parts.val) throw new UserError(`--val-data: expected train=DIR,val=DIR, got '${v}'`);
  return { train: parts.train, val: parts.val };
}

export function pretrainCommand() {
  return new Command('pretrain')
    .description('pretrain a backbone with self-supervised learning on a folder of images')
    .option('-c, --config <file>', 'YAML or JSON config file (flags override it)')
    .option('--data <dir>', 'folder of images (searched recursively)')
    .option('--out <dir>', 'output folder: checkpoints, logs, exported models (default: the first free runs/<method>-<n>)')
    .addOption(new Option('--method <name>', `self-supervised method (default ${DEFAULT_METHOD}): ${METHODS.map((m) => `${m.name}: ${m.description}`).join('; ')}`).choices(methodNames))
    .option(`--model <name>`, `backbone, e.g. vit-tiny/16, vit-small/14, vit-base/16-reg4, resnet18, resnet50 (default: the method's, ${METHODS.map((m) => `${m.name} ${m.defaultModel}`).join(', ')})`)
    .option('--epochs <n>', `passes over the data (default ${DEFAULT_EPOCHS})`, int('epochs'))
    .option('--steps <n>', 'optimizer steps (overrides --epochs)', int('steps'))
    .option('--batch-size <n>', `images per step, the whole job's (default ${RUN_DEFAULTS.batch_size})`, int('batch-size'))
    .option('--lr <x>', "base learning rate at the reference batch size (default: the method's; see --print-config)", num('lr'))
    .option('--seed <n>', `random seed: same seed, same run (default ${RUN_DEFAULTS.seed})`, int('seed'))
    .option('--checkpoint-every <n>', 'write checkpoints/step-N every N steps (checkpoints/last always)', int('checkpoint-every'))
    .option('--export-every <n>', 'export the backbone every N steps', int('export-every'))
    .option('--log-every <n>', `log metrics every N steps (default ${RUN_DEFAULTS.log_every})`, int('log-every'))
    .option('--resume', 'continue from <out>/checkpoints/last')
    .option('--overwrite', "replace the previous run in <out> (only a run's own files; anything else there is refused)")
    .option('--no-overwrite', "keep <out> as it is (undoes a config file's overwrite: true)")
    .addOption(new Option('--device <device>', `execution provider (default ${RUN_DEFAULTS.device})`).choices(devices))
    .option('--threads <n>', 'intra-op threads per process (default: the cores, shared by the processes on this machine)', int('threads'))
    .option('--processes <n>', `run a data-parallel job of N processes on this machine (mpiexec; see docs/distributed.md; default ${RUN_DEFAULTS.processes})`, int('processes'))
    .option('--num-workers <n>', `images decoded concurrently (default ${RUN_DEFAULTS.num_workers})`, int('num-workers'))
    .option('--augment-workers <n>', "threads that augment views while the model computes (default auto; 0: on the main thread between steps)", workers)
    .option("--global-size <px>", `global crop size (default: the method's, ${METHODS.map((m) => `${m.name} ${m.transforms.global.size}`).join(", ")})`, int('global-size'))
    .option("--local-size <px>", `local crop size (default: the method's, ${METHODS.map((m) => `${m.name} ${m.transforms.local.size}`).join(", ")})`, int('local-size'))
    .option('--global-crops <n>', 'number of global crops (default 2)', int('global-crops'))
    .option("--local-crops <n>", `number of local crops, 0 disables (default: the method's, ${METHODS.map((m) => `${m.name} ${m.transforms.local.count}`).join(", ")})`, int('local-crops'))
    .option('--loggers <list>', 'comma-separated: jsonl,tensorboard,wandb (default jsonl,tensorboard)')
    .option('--teacher <file>', 'distillation: the teacher, an ONNX model (or a .safetensors state dict with --teacher-model)')
    .option('--teacher-model <name>', 'distillation: the architecture of a .safetensors teacher, e.g. vit-base/14')
    .option('--init-weights <file>', 'start from backbone weights in a safetensors file')
    .option('--val-data <spec>', 'train=DIR,val=DIR: labelled folders for a kNN eval while training', parseValData)
    .addOption(new Option('--log-format <format>', 'stderr log format').choices(['pretty', 'json'] as const))
    .option('--print-config', 'print the resolved config as YAML and exit')
    .action(async (opts) => {
      const file = opts.config ? readConfigFile(opts.config) : {};
      const flags: Record<string, unknown> = {
        data: opts.data,
        out: opts.out,
        method: opts.method,
        model: opts.model,
        epochs: opts.epochs,
        steps: opts.steps,
        batch_size: opts.batchSize,
        seed: opts.seed,
        checkpoint_every: opts.checkpointEvery,
        export_every: opts.exportEvery,
        log_every: opts.logEvery,
        resume: opts.resume,
        overwrite: opts.overwrite,
        device: opts.device,
        threads: opts.threads,
        processes: opts.processes,
        num_workers: opts.numWorkers,
        augment_workers: opts.augmentWorkers,
        init_weights: opts.initWeights,
        val_data: opts.valData,
        optim: opts.lr !== undefined ? { lr: opts.lr } : undefined,
        method_args: teacherArgs(opts, String(opts.method ?? file.method ?? DEFAULT_METHOD)),
        transforms: cropOverrides(opts),
        loggers: opts.loggers !== undefined ? { enabled: opts.loggers.split(',').map((s) => s.trim()).filter(Boolean) } : undefined,
      };
      const cfg = resolvePretrainConfig(file, flags);
      if (opts.printConfig) {
        process.stdout.write(await resolvedConfigText(cfg));
        return;
      }
      const { pretrainJob } = await import('../train/job.js');
      await pretrainJob(cfg, { logFormat: opts.logFormat, configFile: opts.config });
    });
}

/** --teacher / --teacher-model as `method_args` keys, for the methods whose arguments have a teacher. */
function teacherArgs(o: { teacher?: string; teacherModel?: string }, method: string) {
  if (o.teacher === undefined && o.teacherModel === undefined) return undefined;
  const takesTeacher = (name: string) => 'teacher' in ((methodNamed(name).args as unknown as { shape?: Record<string, unknown> }).shape ?? {});
  if (!takesTeacher(method)) throw new UserError(`--teacher: method ${method} takes no teacher; use --method ${methodNames.filter(takesTeacher).join(' or --method ')}`);
  return { teacher: o.teacher, teacher_model: o.teacherModel };
}

/**
 * The config as the run would resolve it (every 'auto' for the data folder's size, every optimizer value), with the
 * run's length and learning rate after batch scaling as comments; unresolved, saying why, when the data cannot be read.
 */
async function resolvedConfigText(cfg: PretrainConfig): Promise<string> {
  const { scanImageFolder } = await import('../data/scan.js');
  const { checkedModel, optimOf, resolveConfig, runShape } = await import('../train/setup.js');
  const { describeOptimizer } = await import('../train/hyperparams.js');
  try {
    const files = await scanImageFolder(cfg.data);
    const shape = runShape(cfg, files.length, cfg.data, cfg.processes);
    checkedModel(cfg);
    const resolved = resolveConfig(cfg, shape);
    return (
      `# ${files.length} images in ${cfg.data}: ${shape.batchesPerEpoch} steps per epoch, ${shape.totalSteps} steps\n` +
      `# ${describeOptimizer(optimOf(resolved), cfg.batch_size, shape.totalSteps)}\n${YAML.stringify(resolved)}`
    );
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return `# 'auto' settings and the optimizer's defaults are left unresolved: ${e.message.split('\n')[0]}\n${YAML.stringify(cfg)}`;
  }
}

function cropOverrides(o: { globalSize?: number; localSize?: number; globalCrops?: number; localCrops?: number }) {
  const global = { size: o.globalSize, count: o.globalCrops };
  const local = { size: o.localSize, count: o.localCrops };
  const has = (x: object) => Object.values(x).some((v) => v !== undefined);
  if (!has(global) && !has(local)) return undefined;
  return { global: has(global) ? global : undefined, local: has(local) ? local : undefined };
}
