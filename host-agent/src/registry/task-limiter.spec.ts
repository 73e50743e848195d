import { describe, expect, it } from 'vitest';

import { TaskLimiter } from './task-limiter.js';

describe(TaskLimiter.name, () => {
  it('runs at most the limit at once, the rest in order, telling which had to wait', async () => {
    const limiter = new TaskLimiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const waited: number[] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        limiter.run(
          async () => {
            running += 1;
            most = Math.max(most, running);
            await new Promise((resolve) => setTimeout(resolve, 5));
            order.push(n);
            running -= 1;
          },
          () => waited.push(n),
        ),
      ),
    );
    expect(most).toBe(2);
    expect(waited).toEqual([3, 4, 5]);
    expect(order.slice(2)).toEqual([3, 4, 5]);
  });

  it('frees the slot of a task that failed', async () => {
    const limiter = new TaskLimiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve(7))).toBe(7);
  });
});
