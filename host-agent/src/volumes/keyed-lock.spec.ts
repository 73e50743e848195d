import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe(KeyedLock.name, () => {
  it('runs work on one key one at a time, in order', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const job = (name: string) =>
      lock.run('data', async () => {
        events.push(`${name} start`);
        await tick();
        events.push(`${name} end`);
      });

    await Promise.all([job('a'), job('b'), job('c')]);

    expect(events).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('lets different keys run together', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const job = (key: string) =>
      lock.run(key, async () => {
        events.push(`${key} start`);
        await tick();
        events.push(`${key} end`);
      });

    await Promise.all([job('a'), job('b')]);

    expect(events).toEqual(['a start', 'b start', 'a end', 'b end']);
  });

  it('goes on with the next work after a failure', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('data', () => Promise.reject(new Error('boom')));
    const next = lock.run('data', () => Promise.resolve('ran'));

    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });
});
