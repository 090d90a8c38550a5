// Batches of augmented views, prefetched while the model computes. Several samples decode at
// once on libuv's pool; each sample's views depend only on (seed, epoch, position in the epoch),
// so batches are identical byte for byte whatever order the decodes finish in, and a run can
// start at any (epoch, batch) and see exactly what an uninterrupted run would.
import { performance } from 'node:perf_hooks';
import type { TransformsConfig } from '../config/transforms.js';
import { AugmentPool } from './augment-pool.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { boundedDecoder } from './bounded-decode.js';
import { decodeShortSide } from './decode-size.js';
import type { RgbImage } from './image.js';
import { batchMasks, DEFAULT_MASK_OPTIONS, type MaskOptions } from './masks.js';
import { epochOrder } from './order.js';
import { renderSample, sampleRng, STREAM_MASKS } from './sample.js';
import type { ImageFileList } from './scan.js';
import { Semaphore } from './semaphore.js';
import { viewSpecs, type ViewSpec } from './views.js';

export interface LoaderMaskOptions extends Partial<MaskOptions> {
  /** ViT patch side: the mask grid is (global.size / patchSize)². */
  patchSize: number;
}

export interface LoaderOptions {
  files: ImageFileList;
  transforms: TransformsConfig;
  batchSize: number;
  seed: number;
  /** Drop the last, smaller batch of each epoch (default true). */
  dropLast?: boolean;
  /** Batches prepared ahead of the consumer (default 2). */
  prefetch?: number;
  /** Decodes in flight at once (default: libuv pool size - 1, leaving a thread for ORT and fs). */
  concurrency?: number;
  /** Where to begin, for exact resume (default epoch 0, batch 0). */
  start?: { epoch: number; batch: number };
  /** iBOT masks for the global views (DINOv2); omitted: no masks. */
  masks?: LoaderMaskOptions;
  /**
   * This process's part of every batch in a data-parallel job: part `index` of `count` equal slices of each
   * `batchSize` batch (which `count` must divide). Views and masks are the ones the whole batch has in one process.
   */
  part?: { index: number; count: number };
  /** Reuse a batch's arrays once the next batch is requested (default true). */
  reuseBuffers?: boolean;
  /**
   * Worker threads that render the views while the model computes (0: on the main thread, between steps).
   * Default 0 here; the trainer passes the config's augment_workers.
   */
  augmentWorkers?: number;
  /** Images above this many pixels (width x height) are skipped as unreadable (default sharp's limit, 0x3FFF²). */
  maxImagePixels?: number;
  /**
   * Estimated peak memory of the decodes in flight together, in bytes (default 1 GiB): fewer than
   * `concurrency` run at once when their images are large (decode-cost.ts).
   */
  decodeMemoryBytes?: number;
  /** Called once per unreadable file, with a message naming it. */
  onWarning?: (message: string) => void;
  /** Replaces the decoder (tests); the default decodes each image reduced to the size its views need. */
  decode?: (path: string) => Promise<RgbImage>;
}

export interface Batch {
  epoch: number;
  /** Index of this batch within its epoch. */
  batch: number;
  /** Samples in this batch (batchSize except a kept last batch). */
  size: number;
  /** Per view index: [size, 3, S, S] normalised float32, NCHW. Global views first. */
  views: Float32Array[];
  /** Side S of each view. */
  viewSizes: number[];
  /** Dataset file index of each sample. */
  indices: Uint32Array;
  /**
   * iBOT masks when requested: [globalCount * size, gridH * gridW], 1 = masked; row
   * v * size + i is global view v of sample i (view-major, like the concatenated global views).
   */
  masks?: Uint8Array;
  maskGrid?: [number, number];
  /** Milliseconds the consumer waited in next() for this batch. */
  waitMs: number;
}

export interface LoaderStats {
  batches: number;
  /** Total milliseconds the consumer spent waiting for data. */
  waitMs: number;
  /** Distinct files skipped: unreadable, corrupt, or above maxImagePixels. */
  skippedFiles: number;
}

interface Buffers {
  views: Float32Array[];
  indices: Uint32Array;
  masks?: Uint8Array;
}

interface Pending {
  promise: Promise<Batch>;
  buffers: Buffers;
}

function defaultConcurrency(): number {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, pool - 1);
}

export class DataLoader {
  readonly batchesPerEpoch: number;
  readonly specs: ViewSpec[];
  private readonly files: ImageFileList;
  private readonly t: TransformsConfig;
  private readonly batchSize: number;
  /** samples of each batch this loader delivers, and where they start in it */
  private readonly local: { size: number; offset: number };
  private readonly seed: number;
  private readonly prefetch: number;
  private readonly reuse: boolean;
  private readonly decode: (path: string) => Promise<RgbImage>;
  private readonly onWarning: (message: string) => void;
  private readonly semaphore: Semaphore;
  private readonly augment?: AugmentPool;
  private readonly maskOptions?: MaskOptions;
  private readonly maskGrid?: [number, number];
  private readonly unreadable: Uint8Array;
  private readonly orders = new Map<number, Uint32Array>();
  private queue: Pending[] = [];
  private pool: Buffers[] = [];
  private held?: Buffers;
  private nextEpoch: number;
  private nextBatch: number;
  private closed = false;
  private delivered = 0;
  private waitedMs = 0;
  private skipped = 0;

  constructor(options: LoaderOptions) {
    const { files, transforms, batchSize } = options;
    // the run checks the batch and the crop sizes once (train/setup.ts); here they are only asserted
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    const dropLast = options.dropLast ?? true;
    this.batchesPerEpoch = dropLast ? Math.floor(files.length / batchSize) : Math.ceil(files.length / batchSize);
    if (this.batchesPerEpoch === 0) throw new Error(`${files.length} image(s) make no batch of ${batchSize}`);
    this.files = files;
    this.t = transforms;
    this.batchSize = batchSize;
    const part = options.part ?? { index: 0, count: 1 };
    if (batchSize % part.count !== 0) throw new Error(`a batch of ${batchSize} does not split into ${part.count} equal parts`);
    if (part.count > 1 && !dropLast) throw new Error('a batch split into parts must be complete: dropLast');
    this.local = { size: batchSize / part.count, offset: part.index * (batchSize / part.count) };
    this.seed = options.seed >>> 0;
    this.prefetch = Math.max(1, options.prefetch ?? 2);
    this.reuse = options.reuseBuffers ?? true;
    this.specs = viewSpecs(transforms);
    this.decode =
      options.decode ??
      boundedDecoder({
        shortSide: decodeShortSide(this.specs),
        maxImagePixels: options.maxImagePixels,
        memoryBytes: options.decodeMemoryBytes,
      });
    this.onWarning = options.onWarning ?? (() => {});
    this.semaphore = new Semaphore(Math.max(1, options.concurrency ?? defaultConcurrency()));
    const workers = options.augmentWorkers ?? 0;
    if (workers > 0) this.augment = new AugmentPool(workers, this.specs, transforms, this.seed);
    this.unreadable = new Uint8Array(files.length);
    if (options.masks) {
      const { patchSize, ...rest } = options.masks;
      const side = transforms.global.size;
      if (!Number.isInteger(patchSize) || patchSize < 1 || side % patchSize !== 0) throw new Error(`global crops of ${side} px do not tile into ${patchSize} px patches`);
      this.maskOptions = { ...DEFAULT_MASK_OPTIONS, ...rest };
      this.maskGrid = [side / patchSize, side / patchSize];
    }
    let { epoch, batch } = options.start ?? { epoch: 0, batch: 0 };
    epoch += Math.floor(batch / this.batchesPerEpoch);
    batch %= this.batchesPerEpoch;
    this.nextEpoch = epoch;
    this.nextBatch = batch;
  }

  /** The next batch, in order; waits only if it is not prepared yet. */
  async next(): Promise<Batch> {
    if (this.closed) throw new Error('DataLoader is closed');
    if (this.held) {
      if (this.reuse) this.pool.push(this.held);
      this.held = undefined;
    }
    this.fill();
    const pending = this.queue.shift() as Pending;
    this.fill();
    const started = performance.now();
    const batch = await pending.promise;
    batch.waitMs = performance.now() - started;
    this.waitedMs += batch.waitMs;
    this.delivered++;
    this.held = pending.buffers;
    return batch;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    while (!this.closed) yield await this.next();
  }

  stats(): LoaderStats {
    return { batches: this.delivered, waitMs: this.waitedMs, skippedFiles: this.skipped };
  }

  /** Stops prefetching and waits for decodes in flight. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.queue;
    this.queue = [];
    await Promise.allSettled(pending.map((p) => p.promise));
    await this.augment?.close();
  }

  private fill(): void {
    while (this.queue.length < this.prefetch) {
      const epoch = this.nextEpoch;
      const batch = this.nextBatch;
      if (++this.nextBatch === this.batchesPerEpoch) {
        this.nextBatch = 0;
        this.nextEpoch++;
      }
      const buffers = this.pool.pop() ?? this.allocate();
      const promise = this.build(epoch, batch, buffers);
      promise.catch(() => {}); // surfaced by next(); avoids an unhandled rejection after close()
      this.queue.push({ promise, buffers });
    }
  }

  private allocate(): Buffers {
    const b = this.local.size;
    const views = this.specs.map((s) => new Float32Array(b * 3 * s.size * s.size));
    const masks = this.maskGrid ? new Uint8Array(this.t.global.count * b * this.maskGrid[0] * this.maskGrid[1]) : undefined;
    return { views, indices: new Uint32Array(b), masks };
  }

  private order(epoch: number): Uint32Array {
    let order = this.orders.get(epoch);
    if (!order) {
      order = epochOrder(this.files.length, this.seed, epoch);
      this.orders.set(epoch, order);
      for (const e of this.orders.keys()) if (e < epoch - 1) this.orders.delete(e);
    }
    return order;
  }

  private async build(epoch: number, batch: number, buffers: Buffers): Promise<Batch> {
    const order = this.order(epoch);
    const whole = Math.min(this.batchSize, this.files.length - batch * this.batchSize);
    const first = batch * this.batchSize + this.local.offset;
    const size = Math.min(this.local.size, whole);
    const tasks: Promise<void>[] = [];
    for (let slot = 0; slot < size; slot++) tasks.push(this.loadSample(order, epoch, first + slot, slot, buffers));
    await Promise.all(tasks);

    const result: Batch = {
      epoch,
      batch,
      size,
      views: buffers.views.map((v, i) => (size === this.local.size ? v : v.subarray(0, size * 3 * this.specs[i].size ** 2))),
      viewSizes: this.specs.map((s) => s.size),
      indices: buffers.indices.subarray(0, size),
      waitMs: 0,
    };
    if (this.maskOptions && this.maskGrid && buffers.masks) {
      const [gh, gw] = this.maskGrid;
      const G = this.t.global.count;
      const rng = new Rng(this.seed).fork(STREAM_MASKS).fork(epoch).fork(batch);
      const out = buffers.masks.subarray(0, G * size * gh * gw);
      if (size === whole) result.masks = batchMasks(rng, G * size, gh, gw, this.maskOptions, out);
      else {
        // the whole batch's masks (they are drawn for the batch as a list), then this part's rows of each view
        const all = batchMasks(rng, G * whole, gh, gw, this.maskOptions);
        const row = gh * gw;
        for (let v = 0; v < G; v++) out.set(all.subarray((v * whole + this.local.offset) * row, (v * whole + this.local.offset + size) * row), v * size * row);
        result.masks = out;
      }
      result.maskGrid = [gh, gw];
    }
    return result;
  }

  /**
   * Decodes the file at `position` of the epoch's order into `slot`; an unreadable file is
   * replaced by the next readable one in the order (the views still use `position`'s generator).
   */
  private async loadSample(order: Uint32Array, epoch: number, position: number, slot: number, buffers: Buffers): Promise<void> {
    const n = order.length;
    for (let k = 0; k < n; k++) {
      const fileIndex = order[(position + k) % n];
      if (this.unreadable[fileIndex]) continue;
      let img: RgbImage;
      await this.semaphore.acquire();
      try {
        img = await this.decode(this.files.path(fileIndex));
      } catch (err) {
        this.markUnreadable(fileIndex, err);
        continue;
      } finally {
        this.semaphore.release();
      }
      if (this.augment) {
        const views = await this.augment.render(img, epoch, position);
        views.forEach((v, i) => buffers.views[i].set(v, slot * v.length));
      } else renderSample(img, this.specs, this.t, sampleRng(this.seed, epoch, position), buffers.views, slot);
      buffers.indices[slot] = fileIndex;
      return;
    }
    throw new UserError(`No readable image in ${this.files.root}: all ${n} image files failed to decode`);
  }

  private markUnreadable(fileIndex: number, err: unknown): void {
    if (this.unreadable[fileIndex]) return;
    this.unreadable[fileIndex] = 1;
    this.skipped++;
    const reason = err instanceof Error ? err.message : String(err);
    this.onWarning(`Skipping unreadable image ${this.files.path(fileIndex)}: ${reason}`);
  }
}
