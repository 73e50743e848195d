import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.js';

/** A clock that reads what the test sets, in nanoseconds. */
function manualClock(start = 1_700_000_000_000_000_000n) {
  let now = start;
  return { clock: () => now, advance: (nanos: bigint) => (now += nanos), at: () => now };
}

describe(EventBus.name, () => {
  it('publishes container events in the Engine API shape with the legacy fields', () => {
    const { clock } = manualClock(1_629_574_695_515_050_031n);
    const bus = new EventBus({ clock });

    const event = bus.publish({
      type: 'container',
      action: 'start',
      id: 'ede54ee1afda',
      attributes: { image: 'alpine:latest', name: 'my-container' },
    });

    expect(event).toEqual({
      Type: 'container',
      Action: 'start',
      Actor: { ID: 'ede54ee1afda', Attributes: { image: 'alpine:latest', name: 'my-container' } },
      scope: 'local',
      time: 1_629_574_695,
      timeNano: Number(1_629_574_695_515_050_031n),
      status: 'start',
      id: 'ede54ee1afda',
      from: 'alpine:latest',
    });
  });

  it('gives image events status and id but not from, and other events none of them', () => {
    const bus = new EventBus({ clock: manualClock().clock });

    const image = bus.publish({ type: 'image', action: 'pull', id: 'busybox:local', attributes: { name: 'busybox' } });
    const volume = bus.publish({ type: 'volume', action: 'create', id: 'data' });

    expect(image).toMatchObject({ status: 'pull', id: 'busybox:local' });
    expect(image).not.toHaveProperty('from');
    expect(volume).not.toHaveProperty('status');
    expect(volume).not.toHaveProperty('id');
    expect(volume.Actor.Attributes).toEqual({});
  });

  it('calls every subscriber at once, until it unsubscribes', () => {
    const bus = new EventBus({ clock: manualClock().clock });
    const seen: string[] = [];
    const unsubscribe = bus.subscribe(({ event }) => seen.push(event.Action));

    bus.publish({ type: 'volume', action: 'create', id: 'a' });
    expect(bus.subscriberCount).toBe(1);
    unsubscribe();
    bus.publish({ type: 'volume', action: 'destroy', id: 'a' });

    expect(seen).toEqual(['create']);
    expect(bus.subscriberCount).toBe(0);
  });

  it('keeps only the most recent events, oldest first', () => {
    const { clock, advance } = manualClock();
    const bus = new EventBus({ clock, history: 3 });
    for (const action of ['a', 'b', 'c', 'd', 'e']) {
      bus.publish({ type: 'volume', action, id: 'v' });
      advance(1_000n);
    }

    expect(bus.history({ since: 0n }).map(({ event }) => event.Action)).toEqual(['c', 'd', 'e']);
  });

  it('replays with since and until inclusive', () => {
    const { clock, advance, at } = manualClock();
    const bus = new EventBus({ clock });
    const times: bigint[] = [];
    for (const action of ['a', 'b', 'c', 'd']) {
      times.push(at());
      bus.publish({ type: 'volume', action, id: 'v' });
      advance(1_000_000_000n);
    }

    expect(bus.history({ since: times[1], until: times[2] }).map(({ event }) => event.Action)).toEqual(['b', 'c']);
    expect(bus.history({ until: times[0] }).map(({ event }) => event.Action)).toEqual(['a']);
    expect(bus.history({ since: times[3] + 1n })).toEqual([]);
  });

  it('gives events in the same instant strictly increasing times', () => {
    const bus = new EventBus({ clock: () => 5_000n });

    const first = bus.publish({ type: 'volume', action: 'a', id: 'v' });
    const second = bus.publish({ type: 'volume', action: 'b', id: 'v' });

    expect(bus.history().map(({ nanos }) => nanos)).toEqual([5_000n, 5_001n]);
    expect(second.timeNano).toBeGreaterThan(first.timeNano);
  });

  it('stamps events with the wall clock by default', () => {
    const before = Date.now();
    const event = new EventBus().publish({ type: 'daemon', action: 'reload', id: 'engine' });

    expect(event.time * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Math.abs(event.timeNano / 1e6 - Date.now())).toBeLessThan(1_000);
  });
});
