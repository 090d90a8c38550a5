// The part of cli-progress 3.x that terminal-progress.ts uses (the package ships no types).
declare module 'cli-progress' {
  namespace cliProgress {
    interface Params {
      progress: number;
      value: number;
      total: number;
      maxWidth: number;
    }

    interface Options {
      stream?: { readonly isTTY: boolean; readonly columns: number; write(chunk: string): boolean };
      format?: string | ((options: Options, params: Params, payload: Record<string, unknown>) => string);
      fps?: number;
      barsize?: number;
      barCompleteChar?: string;
      barIncompleteChar?: string;
      hideCursor?: boolean;
      linewrap?: boolean | null;
      gracefulExit?: boolean;
      clearOnComplete?: boolean;
      stopOnComplete?: boolean;
      noTTYOutput?: boolean;
    }

    class SingleBar {
      constructor(options: Options);
      /** Internal: the redraw timer, re-armed by every render(). */
      protected timer: ReturnType<typeof setTimeout> | null;
      /** Internal: the cursor and line control behind the bar. */
      protected terminal: { cursorSave(): void; cursorRestore(): void };
      isActive: boolean;
      start(total: number, startValue: number): void;
      update(value: number): void;
      setTotal(total: number): void;
      stop(): void;
      render(): void;
    }

    const Format: {
      BarFormat(progress: number, options: Options): string;
    };
  }
  export = cliProgress;
}
