import { invalidArgument } from '../engine-error.js';
import type { EngineFilters } from '../engine-api/engine-filters.js';
import type { EngineEvent } from './engine-event.js';
import type { EventBus, RecordedEvent } from './event-bus.js';
import { eventMatches } from './event-filter.js';

const MAX_TIMER_MS = 2_147_483_647;

/** Where a stream of events goes. `offer` says false when the reader is too far behind. */
export interface EventSink {
  offer(event: EngineEvent): boolean;
  readonly closed: boolean;
}

export interface EventStreamOptions {
  since?: bigint;
  until?: bigint;
  filters: EngineFilters;
  /** Aborting ends the stream (the client went away). */
  signal: AbortSignal;
}

/** Why a stream of events ended. */
export type EventStreamEnd = 'until' | 'aborted' | 'closed' | 'slow-reader';

/**
 * Sends the kept events with `since <= time <= until` that pass the filters, then the new ones as
 * they come, until `until` passes, the client goes away, or the reader falls behind.
 *
 * A reader that falls behind (its sink refuses an event: more than the writer's backlog cap left
 * unread) is disconnected rather than silently missing events: the end of the stream tells it
 * so, and it can reconnect with `since` set to the time of the last event it saw to catch up
 * from the kept history.
 */
export function streamEvents(bus: EventBus, sink: EventSink, options: EventStreamOptions): Promise<EventStreamEnd> {
  const { since, until, filters, signal } = options;
  return new Promise<EventStreamEnd>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    let finished = false;
    const finish = (why: EventStreamEnd) => {
      if (finished) return;
      finished = true;
      unsubscribe();
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(why);
    };
    const onAbort = () => finish('aborted');

    const deliver = ({ event, nanos }: RecordedEvent): boolean => {
      if (until !== undefined && nanos > until) return true;
      if (!eventMatches(event, filters)) return true;
      if (sink.closed) {
        finish('closed');
        return false;
      }
      if (!sink.offer(event)) {
        finish('slow-reader');
        return false;
      }
      return true;
    };

    if (signal.aborted) {
      finish('aborted');
      return;
    }
    signal.addEventListener('abort', onAbort);

    // Subscribing and reading the history in one synchronous step: no event falls between them.
    const live: RecordedEvent[] = [];
    let replaying = true;
    unsubscribe = bus.subscribe((recorded) => {
      if (replaying) live.push(recorded);
      else deliver(recorded);
    });
    // dockerd replays only when a bound is given: a plain `docker events` starts from now.
    const replay = since === undefined && until === undefined ? [] : bus.history({ since, until });
    for (const recorded of replay) if (!deliver(recorded)) return;
    replaying = false;
    for (const recorded of live) if (!deliver(recorded)) return;

    if (until !== undefined) {
      const arm = () => {
        const remainingMs = Number((until - bus.now()) / 1_000_000n);
        if (remainingMs <= 0) {
          finish('until');
          return;
        }
        // setTimeout takes at most 2^31-1 ms (about 24 days); a later `until` re-arms.
        timer = setTimeout(arm, Math.min(remainingMs + 1, MAX_TIMER_MS));
      };
      arm();
    }
  });
}

/**
 * A `since`/`until` value as clients send it: Unix seconds with an optional fraction
 * (`1629574695.515050031`, what the CLI makes of `--since 10m`), or an RFC 3339 time.
 * Undefined for an absent or empty value; invalid-argument (400) for anything else.
 */
export function parseEventTime(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  const unix = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix) {
    const seconds = BigInt(unix[1]);
    const fraction = BigInt((unix[2] ?? '').padEnd(9, '0'));
    return seconds * 1_000_000_000n + (seconds < 0n ? -fraction : fraction);
  }
  const millis = Date.parse(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(millis)) return BigInt(millis) * 1_000_000n;
  throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(value)} is not a Unix timestamp`);
}
