import { describe, expect, it } from 'vitest';
import {
  matchesList,
  matchesName,
  matchesPrune,
  parseListFilters,
  parsePruneFilters,
  type FilterableVolume,
} from './volume-filters.js';
import { ANONYMOUS_LABEL } from './volume-name.js';

const volume = (overrides: Partial<FilterableVolume> = {}): FilterableVolume => ({
  name: 'app_db',
  driver: 'local',
  labels: { 'com.docker.compose.project': 'app', tier: 'db' },
  inUse: false,
  ...overrides,
});

describe(parseListFilters.name, () => {
  it('matches everything without filters', () => {
    expect(matchesList(volume(), parseListFilters())).toBe(true);
    expect(matchesList(volume(), parseListFilters({}))).toBe(true);
  });

  it('refuses a filter it does not know, naming it', () => {
    expect(() => parseListFilters({ colour: ['blue'] })).toThrow(
      expect.objectContaining({ kind: 'invalid-argument', message: "invalid filter 'colour'" }),
    );
  });

  it('refuses a dangling value that is not a boolean', () => {
    expect(() => parseListFilters({ dangling: ['maybe'] })).toThrow("invalid filter 'dangling=maybe'");
  });

  it('refuses dangling given as both true and false', () => {
    expect(() => parseListFilters({ dangling: ['true', '0'] })).toThrow(/both true and false/);
  });

  it('selects unused volumes with dangling=true and used ones with dangling=false', () => {
    expect(matchesList(volume({ inUse: false }), parseListFilters({ dangling: ['true'] }))).toBe(true);
    expect(matchesList(volume({ inUse: true }), parseListFilters({ dangling: ['1'] }))).toBe(false);
    expect(matchesList(volume({ inUse: true }), parseListFilters({ dangling: ['false'] }))).toBe(true);
    expect(matchesList(volume({ inUse: false }), parseListFilters({ dangling: ['0'] }))).toBe(false);
  });

  it('matches a label by key alone or by key and value, all labels together', () => {
    expect(matchesList(volume(), parseListFilters({ label: ['tier'] }))).toBe(true);
    expect(matchesList(volume(), parseListFilters({ label: ['tier=db'] }))).toBe(true);
    expect(matchesList(volume(), parseListFilters({ label: ['tier=web'] }))).toBe(false);
    expect(matchesList(volume(), parseListFilters({ label: ['tier=db', 'missing'] }))).toBe(false);
  });

  it('matches a label whose value contains =', () => {
    expect(matchesList(volume({ labels: { query: 'a=b' } }), parseListFilters({ label: ['query=a=b'] }))).toBe(true);
  });

  it('matches any of several drivers exactly', () => {
    expect(matchesList(volume(), parseListFilters({ driver: ['nfs', 'local'] }))).toBe(true);
    expect(matchesList(volume(), parseListFilters({ driver: ['loc'] }))).toBe(false);
  });

  it('matches any of several names by part', () => {
    expect(matchesList(volume(), parseListFilters({ name: ['web', 'db'] }))).toBe(true);
    expect(matchesList(volume(), parseListFilters({ name: ['web'] }))).toBe(false);
  });

  it('combines different filters with and', () => {
    const criteria = parseListFilters({ name: ['app'], label: ['tier=db'], dangling: ['true'] });
    expect(matchesList(volume(), criteria)).toBe(true);
    expect(matchesList(volume({ inUse: true }), criteria)).toBe(false);
  });
});

describe(matchesName.name, () => {
  it.each([
    ['db', true],
    ['^app', true],
    ['db$', true],
    ['^app_db$', true],
    ['^app$', false],
    ['^db', false],
    ['app$', false],
  ])('%s against app_db is %s', (pattern, expected) => {
    expect(matchesName('app_db', pattern)).toBe(expected);
  });

  it('does not run the pattern as a regular expression', () => {
    expect(matchesName('app_db', 'app.db')).toBe(false);
    expect(matchesName('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', '(a+)+$')).toBe(false);
  });
});

describe(parsePruneFilters.name, () => {
  const anonymous = volume({ name: 'f'.repeat(64), labels: { [ANONYMOUS_LABEL]: '' } });

  it('considers only anonymous volumes by default, as Docker 23 does', () => {
    const criteria = parsePruneFilters();
    expect(matchesPrune(anonymous, criteria)).toBe(true);
    expect(matchesPrune(volume(), criteria)).toBe(false);
  });

  it('considers named volumes too with all=true', () => {
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['true'] }))).toBe(true);
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['false'] }))).toBe(false);
  });

  it('narrows by label and excludes by label!', () => {
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['1'], label: ['tier=db'] }))).toBe(true);
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['1'], label: ['tier=web'] }))).toBe(false);
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['1'], 'label!': ['tier'] }))).toBe(false);
    expect(matchesPrune(volume(), parsePruneFilters({ all: ['1'], 'label!': ['tier=web'] }))).toBe(true);
  });

  it('refuses list-only filters and a malformed all', () => {
    expect(() => parsePruneFilters({ dangling: ['true'] })).toThrow("invalid filter 'dangling'");
    expect(() => parsePruneFilters({ all: ['true', 'false'] })).toThrow(/only one value/);
    expect(() => parsePruneFilters({ all: ['yes'] })).toThrow("invalid filter 'all=yes'");
  });
});
