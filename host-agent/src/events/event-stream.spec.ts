import { describe, expect, it } from 'vitest';
import { EngineFilters } from '../engine-api/engine-filters.js';
import type { EngineEvent } from './engine-event.js';
import { EventBus } from './event-bus.js';
import { parseEventTime, streamEvents, type EventSink } from './event-stream.js';

function collectingSink(capacity = Infinity): EventSink & { events: EngineEvent[]; closed: boolean } {
  const sink = {
    events: [] as EngineEvent[],
    closed: false,
    offer(event: EngineEvent) {
      if (sink.events.length >= capacity) return false;
      sink.events.push(event);
      return true;
    },
  };
  return sink;
}

const SECOND = 1_000_000_000n;

function busAt(start: bigint) {
  let now = start;
  const bus = new EventBus({ clock: () => now });
  return { bus, set: (value: bigint) => (now = value) };
}

describe(streamEvents.name, () => {
  it('sends new events that pass the filters until the client goes away', async () => {
    const bus = new EventBus();
    const sink = collectingSink();
    const client = new AbortController();
    bus.publish({ type: 'container', action: 'create', id: 'before' });

    const ended = streamEvents(bus, sink, {
      filters: EngineFilters.parse('{"type":["container"]}'),
      signal: client.signal,
    });
    bus.publish({ type: 'container', action: 'start', id: 'c1' });
    bus.publish({ type: 'volume', action: 'create', id: 'v1' });
    client.abort();
    bus.publish({ type: 'container', action: 'die', id: 'c1' });

    expect(await ended).toBe('aborted');
    // Without since, nothing from before the call is replayed.
    expect(sink.events.map((e) => `${e.Action} ${e.Actor.ID}`)).toEqual(['start c1']);
    expect(bus.subscriberCount).toBe(0);
  });

  it('replays kept events from since, then goes on live', async () => {
    const { bus, set } = busAt(100n * SECOND);
    bus.publish({ type: 'volume', action: 'old', id: 'v' });
    set(200n * SECOND);
    bus.publish({ type: 'volume', action: 'kept', id: 'v' });
    const sink = collectingSink();
    const client = new AbortController();

    const ended = streamEvents(bus, sink, {
      since: 150n * SECOND,
      filters: EngineFilters.EMPTY,
      signal: client.signal,
    });
    set(300n * SECOND);
    bus.publish({ type: 'volume', action: 'live', id: 'v' });
    client.abort();

    expect(await ended).toBe('aborted');
    expect(sink.events.map((e) => e.Action)).toEqual(['kept', 'live']);
  });

  it('ends at once after the replay when until has passed', async () => {
    const { bus, set } = busAt(100n * SECOND);
    bus.publish({ type: 'volume', action: 'a', id: 'v' });
    set(200n * SECOND);
    bus.publish({ type: 'volume', action: 'b', id: 'v' });
    const sink = collectingSink();

    const ended = await streamEvents(bus, sink, {
      since: 0n,
      until: 150n * SECOND,
      filters: EngineFilters.EMPTY,
      signal: new AbortController().signal,
    });

    expect(ended).toBe('until');
    expect(sink.events.map((e) => e.Action)).toEqual(['a']);
    expect(bus.subscriberCount).toBe(0);
  });

  it('ends when a future until comes', async () => {
    const bus = new EventBus();
    const until = BigInt(Date.now() + 50) * 1_000_000n;

    const started = Date.now();
    const ended = await streamEvents(bus, collectingSink(), {
      until,
      filters: EngineFilters.EMPTY,
      signal: new AbortController().signal,
    });

    expect(ended).toBe('until');
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });

  it('disconnects a reader that falls behind instead of queueing for it', async () => {
    const bus = new EventBus();
    const sink = collectingSink(2);

    const ended = streamEvents(bus, sink, { filters: EngineFilters.EMPTY, signal: new AbortController().signal });
    for (let index = 0; index < 5; index += 1) bus.publish({ type: 'volume', action: `e${index}`, id: 'v' });

    expect(await ended).toBe('slow-reader');
    expect(sink.events.map((e) => e.Action)).toEqual(['e0', 'e1']);
    expect(bus.subscriberCount).toBe(0);
  });

  it('stops when the sink closes', async () => {
    const bus = new EventBus();
    const sink = collectingSink();
    const ended = streamEvents(bus, sink, { filters: EngineFilters.EMPTY, signal: new AbortController().signal });

    sink.closed = true;
    bus.publish({ type: 'volume', action: 'create', id: 'v' });

    expect(await ended).toBe('closed');
    expect(sink.events).toEqual([]);
  });

  it('does nothing for a client that is already gone', async () => {
    const client = new AbortController();
    client.abort();
    const bus = new EventBus();

    expect(await streamEvents(bus, collectingSink(), { filters: EngineFilters.EMPTY, signal: client.signal })).toBe(
      'aborted',
    );
    expect(bus.subscriberCount).toBe(0);
  });
});

describe(parseEventTime.name, () => {
  it('reads Unix seconds with up to nine digits of fraction, as the CLI sends them', () => {
    expect(parseEventTime('since', '1629574695.515050031')).toBe(1_629_574_695_515_050_031n);
    expect(parseEventTime('since', '1629574695.5')).toBe(1_629_574_695_500_000_000n);
    expect(parseEventTime('since', '1629574695')).toBe(1_629_574_695_000_000_000n);
  });

  it('reads an RFC 3339 time', () => {
    expect(parseEventTime('until', '2021-08-21T19:38:15Z')).toBe(1_629_574_695_000_000_000n);
  });

  it('has no bound for an absent or empty value', () => {
    expect(parseEventTime('since', undefined)).toBeUndefined();
    expect(parseEventTime('since', '')).toBeUndefined();
  });

  it('refuses anything else with 400 naming the parameter', () => {
    expect(() => parseEventTime('since', '10m')).toThrow(/invalid value for since: "10m"/);
    expect(() => parseEventTime('until', 'yesterday')).toThrow(/invalid value for until/);
  });
});
