import { invalidArgument } from '../engine-error.js';
import { ANONYMOUS_LABEL } from './volume-name.js';

/** The Engine API's `filters` query parameter once decoded: `{"label": ["a=b"], "dangling": ["true"]}`. */
export type VolumeFilters = Readonly<Record<string, readonly string[]>>;

/** `label=key` or `label=key=value`. */
export interface LabelMatch {
  key: string;
  value?: string;
}

export interface ListCriteria {
  /** Any of them is part of the name (`^`/`$` anchor). */
  names: string[];
  /** Any of them is the driver. */
  drivers: string[];
  /** All of them match. */
  labels: LabelMatch[];
  /** true: used by no container; false: used by at least one. */
  dangling?: boolean;
}

export interface PruneCriteria {
  /** All of them match; without `all=true` this includes the anonymous label. */
  labels: LabelMatch[];
  /** None of them matches (`label!=…`). */
  notLabels: LabelMatch[];
}

/** What a filter looks at in a volume. */
export interface FilterableVolume {
  name: string;
  driver: string;
  labels: Readonly<Record<string, string>>;
  inUse: boolean;
}

const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'] as const;
const PRUNE_FILTERS = ['all', 'label', 'label!'] as const;

/** Checks the filters of `GET /volumes`; throws invalid-argument before anything is read. */
export function parseListFilters(filters: VolumeFilters = {}): ListCriteria {
  rejectUnknown(filters, LIST_FILTERS);
  const dangling = filters['dangling'] ?? [];
  const criteria: ListCriteria = {
    names: [...(filters['name'] ?? [])],
    drivers: [...(filters['driver'] ?? [])],
    labels: (filters['label'] ?? []).map(parseLabel),
  };
  if (dangling.length > 0) {
    const values = new Set(dangling.map((value) => parseBoolean('dangling', value)));
    if (values.size > 1) throw invalidArgument("invalid filter 'dangling': both true and false given");
    criteria.dangling = values.has(true);
  }
  return criteria;
}

/**
 * Checks the filters of `POST /volumes/prune`. As Docker ≥23 (API 1.42), only anonymous volumes
 * are candidates unless `all=true`; a caller serving an older API version passes `all: ['true']`.
 */
export function parsePruneFilters(filters: VolumeFilters = {}): PruneCriteria {
  rejectUnknown(filters, PRUNE_FILTERS);
  const all = filters['all'] ?? [];
  if (all.length > 1) throw invalidArgument("invalid filter 'all': only one value is expected");
  const labels = (filters['label'] ?? []).map(parseLabel);
  if (all.length === 0 || !parseBoolean('all', all[0])) labels.push({ key: ANONYMOUS_LABEL });
  return { labels, notLabels: (filters['label!'] ?? []).map(parseLabel) };
}

export function matchesList(volume: FilterableVolume, criteria: ListCriteria): boolean {
  if (criteria.names.length > 0 && !criteria.names.some((pattern) => matchesName(volume.name, pattern))) return false;
  if (criteria.drivers.length > 0 && !criteria.drivers.includes(volume.driver)) return false;
  if (!criteria.labels.every((label) => hasLabel(volume.labels, label))) return false;
  if (criteria.dangling !== undefined && criteria.dangling === volume.inUse) return false;
  return true;
}

export function matchesPrune(volume: FilterableVolume, criteria: PruneCriteria): boolean {
  return (
    criteria.labels.every((label) => hasLabel(volume.labels, label)) &&
    !criteria.notLabels.some((label) => hasLabel(volume.labels, label))
  );
}

/**
 * Docker matches `name` as an unanchored RE2 expression. Skiff takes the common forms, a part of
 * the name with optional `^` and `$` anchors, and does not run user input as a JavaScript regular
 * expression, whose backtracking (`(a+)+$`) could stall the agent.
 */
export function matchesName(name: string, pattern: string): boolean {
  const anchoredStart = pattern.startsWith('^');
  const anchoredEnd = pattern.endsWith('$') && pattern.length > (anchoredStart ? 1 : 0);
  const part = pattern.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
  if (anchoredStart && anchoredEnd) return name === part;
  if (anchoredStart) return name.startsWith(part);
  if (anchoredEnd) return name.endsWith(part);
  return name.includes(part);
}

function hasLabel(labels: Readonly<Record<string, string>>, { key, value }: LabelMatch): boolean {
  if (!Object.hasOwn(labels, key)) return false;
  return value === undefined || labels[key] === value;
}

function parseLabel(filter: string): LabelMatch {
  const separator = filter.indexOf('=');
  if (separator === -1) return { key: filter };
  return { key: filter.slice(0, separator), value: filter.slice(separator + 1) };
}

/** Go's strconv.ParseBool, which Docker uses for these filters. */
function parseBoolean(filter: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw invalidArgument(`invalid filter '${filter}=${value}': expected true or false`);
}

function rejectUnknown(filters: VolumeFilters, accepted: readonly string[]): void {
  for (const key of Object.keys(filters)) {
    if (!accepted.includes(key)) throw invalidArgument(`invalid filter '${key}'`);
  }
}
