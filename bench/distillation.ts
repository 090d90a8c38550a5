// Distillation's cost per step, teacher against student: a randomly initialised dinotrain teacher (by default a
// ViT-B/14 at 224 px, LightlyTrain's default teacher architecture) exported to ONNX, distilled into a student by
// `dinotrain pretrain --method distillation` on examples/images; prints the medians of the logged teacher_ms (the
// teacher's forward) and student_ms (the student's forward and backward), the step time and peak RSS.
// Results: docs/benchmarks.md ("Distillation: teacher and student time").
//
//   node --import tsx bench/distillation.ts [--teacher-model vit-base/14] [--model resnet18] [--size 224]
//        [--batch 16] [--steps 6] [--warmup 2] [--variant both]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { writeDinotrainTeacher } from '../test/helpers/teacher-onnx.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const teacherModel = arg('teacher-model', 'vit-base/14');
const model = arg('model', 'resnet18');
const size = Number(arg('size', '224'));
const batch = Number(arg('batch', '16'));
const steps = Number(arg('steps', '6'));
const warmup = Number(arg('warmup', '2'));
const variant = arg('variant', 'both');

const OUT = 'bench/out/distillation-speed';
mkdirSync(OUT, { recursive: true });
const teacher = join(OUT, `teacher-${teacherModel.replace('/', '-')}-${size}.onnx`);
writeDinotrainTeacher(teacher, { model: teacherModel, modelArgs: {}, imageSize: size });

const run = join(OUT, 'run');
const args = [
  '--import', 'tsx', 'test/helpers/cli.ts', 'pretrain', '--method', 'distillation', '--teacher', teacher, '--data', 'examples/images',
  '--model', model, '--global-size', String(size), '--batch-size', String(batch), '--steps', String(steps), '--log-every', '1',
  '--checkpoint-every', String(steps), '--loggers', 'jsonl', '--out', run, '--overwrite',
];
const configPath = join(OUT, 'variant.yaml');
writeFileSync(configPath, `method_args: { variant: ${variant} }\n`);
const r = spawnSync(process.execPath, [...args, '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
if (r.status !== 0) throw new Error(`pretrain exited ${r.status}`);

const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>)
  .filter((m) => m.teacher_ms !== undefined && m.step > warmup);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const teacherMs = median(rows.map((m) => m.teacher_ms));
const studentMs = median(rows.map((m) => m.student_ms));
const imagesPerS = median(rows.map((m) => m.images_per_s));
console.log(`${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), teacher ${teacherModel} at ${size} px, student ${model}, batch ${batch}, variant ${variant}, steps ${warmup + 1}-${steps}:`);
console.log(`  teacher_ms ${teacherMs.toFixed(0)}  student_ms ${studentMs.toFixed(0)}  teacher share ${(100 * teacherMs / (batch / imagesPerS * 1000)).toFixed(0)} % of the step`);
console.log(`  step ${(batch / imagesPerS).toFixed(2)} s (${imagesPerS.toFixed(1)} images/s), peak rss ${Math.max(...rows.map((m) => m.rss_mb)).toFixed(0)} MiB`);
