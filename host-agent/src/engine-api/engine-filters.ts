import { invalidArgument } from '../engine-error.js';

/**
 * The `filters` query parameter: a JSON object from filter name to values. Clients send it in two
 * forms, the current `{"label":["a=b"]}` and the one from before API 1.22, `{"label":{"a=b":true}}`
 * (docker-py still builds it for some calls); both mean the same.
 */
export class EngineFilters {
  static readonly EMPTY = new EngineFilters(new Map());

  private constructor(private readonly values: ReadonlyMap<string, readonly string[]>) {}

  /**
   * Parses the parameter's text (absent or empty: no filters). Throws invalid-argument when the
   * text is not one of the two forms, or names a filter outside `accepted` when that is given.
   */
  static parse(text: string | null | undefined, accepted?: readonly string[]): EngineFilters {
    if (text === null || text === undefined || text.trim() === '') return EngineFilters.EMPTY;
    let decoded: unknown;
    try {
      decoded = JSON.parse(text);
    } catch {
      throw invalidArgument(`invalid filters: ${JSON.stringify(text)} is not JSON`);
    }
    if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) {
      throw invalidArgument('invalid filters: expected a JSON object of filter names to values');
    }
    const values = new Map<string, string[]>();
    for (const [name, raw] of Object.entries(decoded as Record<string, unknown>)) {
      if (accepted !== undefined && !accepted.includes(name)) {
        throw invalidArgument(`invalid filter '${name}'`);
      }
      values.set(name, filterValues(name, raw));
    }
    return new EngineFilters(values);
  }

  /** Filter names that were given, in the order given. */
  names(): string[] {
    return [...this.values.keys()];
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The values given for `name`; empty when it was not given. */
  get(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  /** True when `name` was not given, or `value` is one of its values. */
  exactMatch(name: string, value: string | undefined): boolean {
    const wanted = this.values.get(name);
    if (wanted === undefined) return true;
    return value !== undefined && wanted.includes(value);
  }

  /** True when `name` was not given, or one of its values is `value` or a prefix of it (ids). */
  fuzzyMatch(name: string, value: string | undefined): boolean {
    const wanted = this.values.get(name);
    if (wanted === undefined) return true;
    return value !== undefined && wanted.some((prefix) => value.startsWith(prefix));
  }

  /**
   * Label filters: every `key` value needs the label, every `key=value` value needs that value.
   * True when `name` was not given.
   */
  matchLabels(name: string, labels: Readonly<Record<string, string>> | undefined): boolean {
    const wanted = this.values.get(name);
    if (wanted === undefined) return true;
    return wanted.every((entry) => {
      const equals = entry.indexOf('=');
      const key = equals === -1 ? entry : entry.slice(0, equals);
      if (labels === undefined || !Object.hasOwn(labels, key)) return false;
      return equals === -1 || labels[key] === entry.slice(equals + 1);
    });
  }
}

function filterValues(name: string, raw: unknown): string[] {
  if (Array.isArray(raw)) {
    if (raw.every((item): item is string => typeof item === 'string')) return raw;
  } else if (raw !== null && typeof raw === 'object') {
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.every(([, flag]) => typeof flag === 'boolean')) return entries.map(([value]) => value);
  }
  throw invalidArgument(`invalid filter '${name}': expected a list of strings`);
}
