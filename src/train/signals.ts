// SIGINT/SIGTERM during training: finish the current step, write a checkpoint, exit 130/143.

export class StopSignal {
  signal: NodeJS.Signals | null = null;
  private readonly handler = (sig: NodeJS.Signals) => {
    if (this.signal) {
      // second signal: the user insists; the last checkpoint on disk is intact (written atomically)
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    this.signal = sig;
    this.onSignal?.(sig);
  };

  constructor(private readonly onSignal?: (sig: NodeJS.Signals) => void) {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  get exitCode(): number {
    return this.signal === 'SIGINT' ? 130 : this.signal === 'SIGTERM' ? 143 : 0;
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}
