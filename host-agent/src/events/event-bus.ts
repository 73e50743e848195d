import type { EngineEvent, EngineEventInput } from './engine-event.js';

/** How many recent events are kept for `since` (dockerd keeps 256). */
export const DEFAULT_EVENT_HISTORY = 1024;

/** Nanoseconds since the epoch: the wall clock at start-up, then the monotonic clock from there. */
export function systemNanoClock(): () => bigint {
  const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return () => offset + process.hrtime.bigint();
}

export interface RecordedEvent {
  event: EngineEvent;
  /** The exact time, for since/until; `event.timeNano` is the same rounded to a double. */
  nanos: bigint;
}

export type EventListener = (recorded: RecordedEvent) => void;

export interface EventBusOptions {
  /** Events kept for replay; the oldest goes when a new one comes. */
  history?: number;
  /** Nanoseconds since the epoch. */
  clock?: () => bigint;
}

/**
 * The engine's events: every part of the engine publishes here, `GET /events` (and the plane
 * link) subscribe. Publishing never blocks and never queues: each listener is called at once and
 * must itself cope with a slow reader (see streamEvents).
 */
export class EventBus {
  private readonly capacity: number;
  private readonly clock: () => bigint;
  private readonly ring: RecordedEvent[] = [];
  private start = 0;
  private lastNanos = 0n;
  private readonly listeners = new Set<EventListener>();

  constructor(options: EventBusOptions = {}) {
    this.capacity = Math.max(1, options.history ?? DEFAULT_EVENT_HISTORY);
    this.clock = options.clock ?? systemNanoClock();
  }

  publish(input: EngineEventInput): EngineEvent {
    // Strictly increasing, so `since` with the time of a seen event never skips its successor.
    let nanos = this.clock();
    if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
    this.lastNanos = nanos;

    const attributes = { ...input.attributes };
    const event: EngineEvent = {
      Type: input.type,
      Action: input.action,
      Actor: { ID: input.id, Attributes: attributes },
      scope: 'local',
      time: Number(nanos / 1_000_000_000n),
      timeNano: Number(nanos),
    };
    if (input.type === 'container' || input.type === 'image') {
      event.status = input.action;
      event.id = input.id;
      if (input.type === 'container' && attributes['image'] !== undefined) event.from = attributes['image'];
    }

    const recorded = { event, nanos };
    if (this.ring.length < this.capacity) {
      this.ring.push(recorded);
    } else {
      this.ring[this.start] = recorded;
      this.start = (this.start + 1) % this.capacity;
    }
    for (const listener of [...this.listeners]) listener(recorded);
    return event;
  }

  /** Kept events, oldest first, with `since <= time <= until` (each bound optional), as dockerd. */
  history(range: { since?: bigint; until?: bigint } = {}): RecordedEvent[] {
    const ordered = [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
    return ordered.filter(
      ({ nanos }) =>
        (range.since === undefined || nanos >= range.since) && (range.until === undefined || nanos <= range.until),
    );
  }

  /** Calls `listener` for every event published from now on, until the returned function is called. */
  subscribe(listener: EventListener): () => void {
    const entry: EventListener = (recorded) => listener(recorded);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** The time the next event could carry at the earliest; `GET /events?until=` compares with it. */
  now(): bigint {
    return this.clock();
  }
}
