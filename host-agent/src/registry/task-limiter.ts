/** Runs at most `limit` tasks at a time, the rest in the order they were given (dockerd's max concurrent downloads). */
export class TaskLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `task` once a slot is free; `onQueued` is told when it has to wait. */
  async run<T>(task: () => Promise<T>, onQueued?: () => void): Promise<T> {
    if (this.running >= this.limit) {
      onQueued?.();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }
}
