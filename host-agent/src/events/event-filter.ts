import { EngineFilters } from '../engine-api/engine-filters.js';
import type { EngineEvent } from './engine-event.js';

/** The filters `GET /events` accepts; any other name is refused with 400. */
export const EVENT_FILTER_NAMES = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
] as const;

export function parseEventFilters(text: string | null | undefined): EngineFilters {
  return EngineFilters.parse(text, EVENT_FILTER_NAMES);
}

/** dockerd matches these actions by prefix, because their Action carries the command after a colon. */
const PREFIX_ACTIONS = ['health_status', 'exec_create', 'exec_start'];

/**
 * Whether `event` passes `filters`, with dockerd's rules: filters of different names must all
 * pass, values of one name are alternatives; objects match by id prefix or name, images by id or
 * reference with or without the tag, labels by key or key=value.
 */
export function eventMatches(event: EngineEvent, filters: EngineFilters): boolean {
  const attributes = event.Actor.Attributes;
  const byName = (type: string) =>
    filters.fuzzyMatch(type, event.Actor.ID) || filters.fuzzyMatch(type, attributes['name']);
  return (
    matchAction(event, filters) &&
    filters.exactMatch('type', event.Type) &&
    filters.exactMatch('scope', event.scope) &&
    byName('daemon') &&
    byName('container') &&
    byName('plugin') &&
    byName('volume') &&
    byName('network') &&
    matchImage(event, filters) &&
    byName('node') &&
    byName('service') &&
    byName('secret') &&
    byName('config') &&
    filters.matchLabels('label', attributes)
  );
}

function matchAction(event: EngineEvent, filters: EngineFilters): boolean {
  if (filters.get('event').some((action) => PREFIX_ACTIONS.includes(action))) {
    return filters.fuzzyMatch('event', event.Action);
  }
  return filters.exactMatch('event', event.Action);
}

function matchImage(event: EngineEvent, filters: EngineFilters): boolean {
  if (!filters.has('image')) return true;
  const id = event.Actor.ID;
  // A container event names its image in `image`; an image event names the image in `name`.
  const name = event.Actor.Attributes[event.Type === 'image' ? 'name' : 'image'];
  return [id, name, stripTag(id), stripTag(name)].some(
    (candidate) => candidate !== undefined && filters.exactMatch('image', candidate),
  );
}

/** `busybox:local` → `busybox`; a port (`127.0.0.1:5000/busybox`) is not a tag. */
export function stripTag(reference: string | undefined): string | undefined {
  if (reference === undefined) return undefined;
  const withoutDigest = reference.split('@')[0];
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}
