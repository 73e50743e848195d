import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleMemory, v8Collector } from './idle-memory.js';

describe('IdleMemory', () => {
  let heap = 100;
  const collect = vi.fn(() => {
    heap = 60;
  });
  const make = () => new IdleMemory({ quietMs: 1_000, growthBytes: 20, heapBytes: () => heap, collect });

  beforeEach(() => {
    vi.useFakeTimers();
    heap = 100;
    collect.mockClear();
  });
  afterEach(() => vi.useRealTimers());

  it('collects once the calls stop, and not while they keep coming', () => {
    const idle = make();
    heap = 150;
    for (let call = 0; call < 5; call++) {
      idle.activity();
      vi.advanceTimersByTime(900);
    }
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it('collects after start, then only when the heap has grown enough since the last collection', () => {
    const idle = make();
    idle.activity();
    vi.advanceTimersByTime(1_000);
    expect(collect).toHaveBeenCalledTimes(1);
    // The heap is 60 after it; 75 is less than 20 above that.
    heap = 75;
    idle.activity();
    vi.advanceTimersByTime(1_000);
    expect(collect).toHaveBeenCalledTimes(1);
    heap = 90;
    idle.activity();
    vi.advanceTimersByTime(1_000);
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it('looks again later while the heap stays well above what a collection left before', () => {
    let freed = false;
    const stubborn = vi.fn(() => {
      heap = freed ? 60 : 140;
    });
    const idle = new IdleMemory({ quietMs: 1_000, growthBytes: 20, heapBytes: () => heap, collect: stubborn });
    heap = 60;
    idle.activity();
    vi.advanceTimersByTime(1_000);
    expect(stubborn).toHaveBeenCalledTimes(1); // the floor is now 140 (the first collection)
    heap = 60;
    collect.mockClear();
    // A burst: its memory is not garbage yet at the first collection.
    stubborn.mockImplementation(() => {
      heap = freed ? 60 : 200;
    });
    heap = 250;
    idle.activity();
    vi.advanceTimersByTime(1_000);
    expect(stubborn).toHaveBeenCalledTimes(2);
    freed = true;
    vi.advanceTimersByTime(2_000);
    expect(stubborn).toHaveBeenCalledTimes(3);
    expect(heap).toBe(60);
    vi.advanceTimersByTime(60_000);
    expect(stubborn).toHaveBeenCalledTimes(3);
    idle.close();
  });

  it('does nothing after close', () => {
    const idle = make();
    heap = 500;
    idle.activity();
    idle.close();
    idle.activity();
    vi.advanceTimersByTime(5_000);
    expect(collect).not.toHaveBeenCalled();
  });

  it('reaches V8 full collection without --expose-gc', () => {
    const gc = v8Collector();
    expect(gc).toBeTypeOf('function');
    expect(() => gc?.()).not.toThrow();
  });
});
