// A worker thread that cuts and augments the views of one decoded sample at a time (see augment-pool.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { TransformsConfig } from '../config/transforms.js';
import { renderSample, sampleRng } from './sample.js';
import type { ViewSpec } from './views.js';
import type { AugmentJob, AugmentReply } from './augment-pool.js';

const { specs, transforms, seed } = workerData as { specs: ViewSpec[]; transforms: TransformsConfig; seed: number };

parentPort!.on('message', (job: AugmentJob) => {
  let reply: AugmentReply;
  try {
    const views = specs.map((s) => new Float32Array(3 * s.size * s.size));
    renderSample(job.image, specs, transforms, sampleRng(seed, job.epoch, job.position), views, 0);
    reply = { id: job.id, views };
  } catch (err) {
    reply = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply, reply.views?.map((v) => v.buffer as ArrayBuffer) ?? []);
});
