import { invalidArgument } from '../engine-error.js';
import { EngineFilters } from './engine-filters.js';

/**
 * Docker's reading of a boolean query value: empty, `0`, `false`, `no` and `none` (any case) are
 * false, anything else given is true. Clients send `1`/`0` (the Go CLI), `True`/`False`
 * (docker-py) and `true`/`false` (dockerode).
 */
export function parseDockerBoolean(value: string): boolean {
  const normalised = value.trim().toLowerCase();
  return !(
    normalised === '' ||
    normalised === '0' ||
    normalised === 'false' ||
    normalised === 'no' ||
    normalised === 'none'
  );
}

const INTEGER = /^[+-]?\d+$/;

/** The query string of an Engine API request, read the way dockerd reads it. */
export class EngineQuery {
  constructor(private readonly params: URLSearchParams) {}

  static fromUrl(url: string): EngineQuery {
    const queryAt = url.indexOf('?');
    return new EngineQuery(new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1)));
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  /** The first value of `name`, or undefined when absent. */
  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  /** Every value of a repeated parameter (`?type=image&type=volume`). */
  strings(name: string): string[] {
    return this.params.getAll(name);
  }

  /** `fallback` when absent, else Docker's boolean reading of the value (parseDockerBoolean). */
  bool(name: string, fallback = false): boolean {
    const value = this.params.get(name);
    return value === null ? fallback : parseDockerBoolean(value);
  }

  /** `fallback` when absent or empty; throws invalid-argument (400) for a value that is not an integer. */
  int(name: string): number | undefined;
  int(name: string, fallback: number): number;
  int(name: string, fallback?: number): number | undefined {
    const value = this.params.get(name)?.trim();
    if (value === undefined || value === '') return fallback;
    const parsed = Number(value);
    if (!INTEGER.test(value) || !Number.isSafeInteger(parsed)) {
      throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(value)} is not an integer`);
    }
    return parsed;
  }

  /** The `filters` parameter in either of its forms; 400 naming a filter outside `accepted`. */
  filters(accepted?: readonly string[]): EngineFilters {
    return EngineFilters.parse(this.params.get('filters'), accepted);
  }
}
