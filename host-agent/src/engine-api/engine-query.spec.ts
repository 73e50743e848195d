import { describe, expect, it } from 'vitest';
import { EngineFilters } from './engine-filters.js';
import { EngineQuery, parseDockerBoolean } from './engine-query.js';

describe(parseDockerBoolean.name, () => {
  it('reads what the CLI, docker-py and dockerode send', () => {
    for (const yes of ['1', 'true', 'True', 'TRUE', 'yes']) expect(parseDockerBoolean(yes), yes).toBe(true);
    for (const no of ['0', 'false', 'False', 'FALSE', '', 'no', 'none', ' 0 '])
      expect(parseDockerBoolean(no), no).toBe(false);
  });
});

describe(EngineQuery.name, () => {
  const query = (text: string) => EngineQuery.fromUrl(`/v1.41/containers/json?${text}`);

  it('reads booleans with a fallback for an absent one', () => {
    const q = query('all=1&size=0&v=False&force=True');

    expect([q.bool('all'), q.bool('size'), q.bool('v'), q.bool('force')]).toEqual([true, false, false, true]);
    expect(q.bool('stream')).toBe(false);
    expect(q.bool('stream', true)).toBe(true);
  });

  it('reads integers, negative ones included', () => {
    const q = query('limit=-1&t=10&h=30&w=');

    expect(q.int('limit')).toBe(-1);
    expect(q.int('t')).toBe(10);
    expect(q.int('h', 24)).toBe(30);
    expect(q.int('w', 80)).toBe(80);
    expect(q.int('missing')).toBeUndefined();
  });

  it('refuses an integer that is not one with 400 naming the parameter', () => {
    expect(() => query('t=ten').int('t')).toThrow(/invalid value for t: "ten" is not an integer/);
    expect(() => query('t=1.5').int('t')).toThrow(/invalid value for t/);
    expect(() => query('t=99999999999999999999').int('t')).toThrow(/invalid value for t/);
  });

  it('decodes strings and repeated parameters', () => {
    const q = query('path=%2Ftmp%2Fcp-in.txt&type=image&type=volume');

    expect(q.string('path')).toBe('/tmp/cp-in.txt');
    expect(q.strings('type')).toEqual(['image', 'volume']);
    expect(q.string('absent')).toBeUndefined();
  });

  it('reads the filters of compose', () => {
    const filters = query(
      `filters=${encodeURIComponent('{"label": ["com.docker.compose.project=peers", "com.docker.compose.oneoff=False"]}')}`,
    ).filters(['label', 'status']);

    expect(filters.get('label')).toEqual(['com.docker.compose.project=peers', 'com.docker.compose.oneoff=False']);
  });

  it('has no filters without the parameter', () => {
    expect(query('all=1').filters().names()).toEqual([]);
  });
});

describe(EngineFilters.name, () => {
  it('reads the current form', () => {
    const filters = EngineFilters.parse('{"label":["a=b","c"],"status":["running"]}');

    expect(filters.names()).toEqual(['label', 'status']);
    expect(filters.get('label')).toEqual(['a=b', 'c']);
  });

  it('reads the old form of map to true the same way', () => {
    const filters = EngineFilters.parse('{"label":{"a=b":true,"c":true},"status":{"running":true}}');

    expect(filters.get('label')).toEqual(['a=b', 'c']);
    expect(filters.get('status')).toEqual(['running']);
  });

  it('has none for an empty text', () => {
    expect(EngineFilters.parse('').names()).toEqual([]);
    expect(EngineFilters.parse(undefined).names()).toEqual([]);
    expect(EngineFilters.parse('{}').names()).toEqual([]);
  });

  it('refuses a filter name outside the accepted ones, naming it', () => {
    expect(() => EngineFilters.parse('{"colour":["red"]}', ['label', 'status'])).toThrow("invalid filter 'colour'");
  });

  it('refuses text that is not JSON, or not an object of lists', () => {
    expect(() => EngineFilters.parse('label=a')).toThrow(/invalid filters/);
    expect(() => EngineFilters.parse('["label"]')).toThrow(/invalid filters/);
    expect(() => EngineFilters.parse('{"label":"a=b"}')).toThrow("invalid filter 'label'");
    expect(() => EngineFilters.parse('{"label":[1]}')).toThrow("invalid filter 'label'");
    expect(() => EngineFilters.parse('{"label":{"a":"yes"}}')).toThrow("invalid filter 'label'");
  });

  it('matches exactly, or passes when the filter is absent', () => {
    const filters = EngineFilters.parse('{"status":["running","paused"]}');

    expect(filters.exactMatch('status', 'running')).toBe(true);
    expect(filters.exactMatch('status', 'exited')).toBe(false);
    expect(filters.exactMatch('status', undefined)).toBe(false);
    expect(filters.exactMatch('name', 'anything')).toBe(true);
  });

  it('matches ids by prefix', () => {
    const filters = EngineFilters.parse('{"container":["0c3e"]}');

    expect(filters.fuzzyMatch('container', '0c3e8623f329')).toBe(true);
    expect(filters.fuzzyMatch('container', 'a2712834ef33')).toBe(false);
  });

  it('matches labels by key, or by key and value, all of them', () => {
    const filters = EngineFilters.parse('{"label":["com.docker.compose.project=peers","com.docker.compose.service"]}');

    expect(
      filters.matchLabels('label', { 'com.docker.compose.project': 'peers', 'com.docker.compose.service': 'web' }),
    ).toBe(true);
    expect(
      filters.matchLabels('label', { 'com.docker.compose.project': 'other', 'com.docker.compose.service': 'web' }),
    ).toBe(false);
    expect(filters.matchLabels('label', { 'com.docker.compose.project': 'peers' })).toBe(false);
    expect(filters.matchLabels('label', undefined)).toBe(false);
    expect(EngineFilters.EMPTY.matchLabels('label', undefined)).toBe(true);
  });

  it('matches a label whose value holds an equals sign', () => {
    expect(EngineFilters.parse('{"label":["cmd=a=b"]}').matchLabels('label', { cmd: 'a=b' })).toBe(true);
  });
});
