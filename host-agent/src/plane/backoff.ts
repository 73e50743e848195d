import { setTimeout as delay } from 'node:timers/promises';

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** 0.5 spreads each delay over ±50%, so a fleet restarted together does not retry in step. */
  randomization: number;
  random?: () => number;
}

/** Exponential delays between attempts: initial, twice that, … up to the maximum, each jittered. */
export class Backoff {
  private attempts = 0;

  constructor(private readonly options: BackoffOptions) {}

  nextDelayMs(): number {
    const { initialDelayMs, maxDelayMs, randomization, random = Math.random } = this.options;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(this.attempts, 30));
    this.attempts += 1;
    const jittered = base * (1 + randomization * (2 * random() - 1));
    return Math.round(Math.min(maxDelayMs, Math.max(0, jittered)));
  }

  reset(): void {
    this.attempts = 0;
  }
}

/** Waits `ms`; resolves false instead of waiting on when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await delay(ms, undefined, signal ? { signal } : {});
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}
