/**
 * The `filters` of GET /images/json (and prune): parsed from the JSON the clients send, in
 * either of its two spellings, checked, and applied to the image list.
 */
import { invalidArgument } from '../engine-error.js';
import type { Digest } from '../snapshots/digest.js';
import { familiarName, familiarString, type ImageReference } from './image-reference.js';

export const IMAGE_FILTERS = ['dangling', 'label', 'reference', 'before', 'since', 'until'] as const;
export type ImageFilterName = (typeof IMAGE_FILTERS)[number];
export type ImageFilters = Partial<Record<ImageFilterName, string[]>>;

/**
 * `{"dangling":["true"]}` or the older `{"dangling":{"true":true}}`, as a string or parsed.
 * An empty or missing value means no filters.
 */
export function parseImageFilters(input: unknown): ImageFilters {
  if (input === undefined || input === null || input === '') return {};
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input) as unknown;
    } catch {
      throw invalidArgument(`invalid filters: ${input}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument('invalid filters: not a JSON object');
  const filters: ImageFilters = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (!(IMAGE_FILTERS as readonly string[]).includes(key)) throw invalidArgument(`invalid filter '${key}'`);
    const values = Array.isArray(raw)
      ? raw
      : typeof raw === 'object' && raw !== null
        ? Object.entries(raw as Record<string, unknown>)
            .filter(([, enabled]) => enabled === true)
            .map(([item]) => item)
        : undefined;
    if (values === undefined || !values.every((item) => typeof item === 'string')) {
      throw invalidArgument(`invalid filter '${key}': values must be strings`);
    }
    filters[key as ImageFilterName] = values;
  }
  for (const value of filters.dangling ?? []) {
    if (!['true', 'false', '1', '0'].includes(value.toLowerCase()))
      throw invalidArgument(`invalid filter 'dangling=${value}'`);
  }
  if (new Set((filters.dangling ?? []).map(isTrue)).size > 1)
    throw invalidArgument(`invalid filter 'dangling': true and false at once`);
  return filters;
}

const isTrue = (value: string): boolean => value.toLowerCase() === 'true' || value === '1';

/** What the filters look at for one image. */
export interface FilterableImage {
  id: Digest;
  /** Milliseconds since the epoch; 0 when the image has no creation time. */
  created: number;
  labels: Record<string, string>;
  tags: ImageReference[];
}

export interface FilterContext {
  /** Looks up the image a `before`/`since` value names; throws not-found if there is none. */
  resolve: (name: string) => FilterableImage;
  now: Date;
}

export interface FilteredImage<T extends FilterableImage> {
  image: T;
  /** The tags to show: only those matching `reference` when that filter is set. */
  tags: ImageReference[];
}

export function filterImages<T extends FilterableImage>(
  images: readonly T[],
  filters: ImageFilters,
  context: FilterContext,
): FilteredImage<T>[] {
  const dangling = filters.dangling?.[0] === undefined ? undefined : isTrue(filters.dangling[0]);
  const before = filters.before?.map((name) => context.resolve(name).created);
  const since = filters.since?.map((name) => context.resolve(name).created);
  const until = filters.until?.map((value) => parseTimestamp(value, context.now));
  const labels = filters.label ?? [];
  const references = filters.reference ?? [];
  const result: FilteredImage<T>[] = [];
  for (const image of images) {
    if (dangling !== undefined && (image.tags.length === 0) !== dangling) continue;
    if (before?.some((time) => !(image.created < time))) continue;
    if (since?.some((time) => !(image.created > time))) continue;
    if (until?.some((time) => !(image.created < time))) continue;
    if (!labels.every((label) => matchesLabel(image.labels, label))) continue;
    let tags = image.tags;
    if (references.length > 0) {
      tags = tags.filter((tag) => references.some((pattern) => matchesReference(pattern, tag)));
      if (tags.length === 0) continue;
    }
    result.push({ image, tags });
  }
  return result;
}

function matchesLabel(labels: Record<string, string>, filter: string): boolean {
  const equals = filter.indexOf('=');
  if (equals === -1) return Object.hasOwn(labels, filter);
  const key = filter.slice(0, equals);
  return Object.hasOwn(labels, key) && labels[key] === filter.slice(equals + 1);
}

/** Docker's FamiliarMatch: the pattern against `busybox:latest`, then against `busybox`. */
export function matchesReference(pattern: string, reference: ImageReference): boolean {
  const glob = globToRegExp(pattern);
  return glob.test(familiarString(reference)) || glob.test(familiarName(reference));
}

/** Go's path.Match: `*` and `?` stop at '/', `[…]` classes with `^` or `!` negation. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern[index];
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '\\' && index + 1 < pattern.length) source += escapeRegExp(pattern[++index]);
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 2);
      if (end === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(index + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replace(/\\/g, '\\\\')}]`;
      index = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Unix time (seconds, with optional fraction), an RFC 3339 date, or a Go duration before now. */
export function parseTimestamp(value: string, now: Date): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let total = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
      total += Number(amount) * (DURATION_UNITS[unit] ?? 0);
    }
    return now.getTime() - total;
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw invalidArgument(`invalid timestamp in filter: ${value}`);
  return parsed;
}
