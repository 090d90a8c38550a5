// Worker threads for the per-sample augmentation. ONNX Runtime's session.run blocks Node's main thread for the
// whole forward/backward, so views rendered on the main thread are rendered between steps, adding to every step;
// in workers they are rendered while the model computes. The views are the same either way: each sample's
// randomness comes from (seed, epoch, position) alone (sample.ts).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { TransformsConfig } from '../config/transforms.js';
import type { RgbImage } from './image.js';
import type { ViewSpec } from './views.js';

export interface AugmentJob {
  id: number;
  image: RgbImage;
  epoch: number;
  position: number;
}

export interface AugmentReply {
  id: number;
  views?: Float32Array[];
  error?: string;
}

/**
 * 'auto': none on 1-2 cores running on the CPU (ORT's threads already use every core, and a worker taking one away
 * mid-op costs more than the rendering it overlaps: measured 5-10 % slower on 2 cores, docs/benchmarks.md); one per
 * four cores above that (at most 4); at least one when the model runs on a GPU, where the CPU is otherwise idle.
 */
export function autoAugmentWorkers(cores = availableParallelism(), gpu = false): number {
  const n = cores <= 2 ? 0 : Math.max(1, Math.min(4, Math.floor(cores / 4)));
  return gpu ? Math.max(1, n) : n;
}

// Under tsx (tests, benches) this module is TypeScript, and so is its worker: a worker does not inherit tsx's
// loader, so it registers it before importing the worker module.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './augment-worker.ts' : './augment-worker.js', import.meta.url);

function startWorker(workerData: unknown): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export class AugmentPool {
  private readonly workers: { worker: Worker; inFlight: number }[];
  private readonly pending = new Map<number, { resolve: (v: Float32Array[]) => void; reject: (e: Error) => void; slot: number }>();
  private nextId = 0;
  private failure?: Error;

  constructor(count: number, specs: readonly ViewSpec[], transforms: TransformsConfig, seed: number) {
    this.workers = Array.from({ length: count }, (_, slot) => {
      const worker = startWorker({ specs, transforms, seed });
      worker.unref(); // never keeps the process alive on its own
      worker.on('message', (m: AugmentReply) => this.settle(m));
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => code !== 0 && this.fail(new Error(`augmentation worker ${slot} exited with code ${code}`)));
      return { worker, inFlight: 0 };
    });
  }

  /** The views of one sample, each [3, S, S], rendered on the least busy worker. */
  render(image: RgbImage, epoch: number, position: number): Promise<Float32Array[]> {
    if (this.failure) return Promise.reject(this.failure);
    let slot = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.workers[i].inFlight < this.workers[slot].inFlight) slot = i;
    const id = this.nextId++;
    const w = this.workers[slot];
    w.inFlight++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      w.worker.postMessage({ id, image, epoch, position } satisfies AugmentJob);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private settle(m: AugmentReply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.workers[p.slot].inFlight--;
    if (m.views) p.resolve(m.views);
    else p.reject(new Error(`augmentation failed: ${m.error}`));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}
