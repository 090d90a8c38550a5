/**
 * A FIFO semaphore over `capacity` units: waiters are served in the order they asked, each taking
 * `weight` units (1 by default). A weight above the capacity is taken as the whole capacity, so an
 * oversized request runs alone instead of never.
 */
export class Semaphore {
  private waiting: { weight: number; resolve: () => void }[] = [];
  private available: number;

  constructor(private readonly capacity: number) {
    this.available = capacity;
  }

  async acquire(weight = 1): Promise<void> {
    const w = this.clamp(weight);
    if (this.waiting.length === 0 && this.available >= w) {
      this.available -= w;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ weight: w, resolve }));
  }

  /** Gives back what acquire(weight) took; pass the same weight. */
  release(weight = 1): void {
    this.available += this.clamp(weight);
    while (this.waiting.length > 0 && this.waiting[0].weight <= this.available) {
      const next = this.waiting.shift() as { weight: number; resolve: () => void };
      this.available -= next.weight;
      next.resolve();
    }
  }

  private clamp(weight: number): number {
    return Math.min(weight, this.capacity);
  }
}
