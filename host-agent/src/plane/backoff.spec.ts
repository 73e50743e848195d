import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from './backoff.js';

describe(Backoff.name, () => {
  it('doubles the delay up to the maximum when there is no randomisation', () => {
    const backoff = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 5_000, randomization: 0 });

    expect(Array.from({ length: 5 }, () => backoff.nextDelayMs())).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('spreads each delay within the randomisation factor', () => {
    const low = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 30_000, randomization: 0.5, random: () => 0 });
    const high = new Backoff({ initialDelayMs: 1_000, maxDelayMs: 30_000, randomization: 0.5, random: () => 1 });

    expect([low.nextDelayMs(), low.nextDelayMs()]).toEqual([500, 1_000]);
    expect([high.nextDelayMs(), high.nextDelayMs()]).toEqual([1_500, 3_000]);
  });

  it('starts over after a reset', () => {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 1_000, randomization: 0 });
    backoff.nextDelayMs();
    backoff.nextDelayMs();

    backoff.reset();

    expect(backoff.nextDelayMs()).toBe(100);
  });
});

describe('sleep', () => {
  it('resolves true after the delay', async () => {
    expect(await sleep(1)).toBe(true);
  });

  it('resolves false as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(60_000, controller.signal);

    controller.abort();

    expect(await waiting).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
