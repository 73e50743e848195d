import { describe, expect, it } from 'vitest';

import type { Digest } from '../snapshots/digest.js';
import {
  filterImages,
  globToRegExp,
  parseImageFilters,
  parseTimestamp,
  type FilterableImage,
} from './image-filters.js';
import { parseReference, withDefaultTag } from './image-reference.js';

const id = (n: number): Digest => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const image = (n: number, created: string, tags: string[], labels: Record<string, string> = {}): FilterableImage => ({
  id: id(n),
  created: Date.parse(created),
  labels,
  tags: tags.map((tag) => withDefaultTag(parseReference(tag))),
});

const images = [
  image(1, '2024-01-01T00:00:00Z', ['busybox:latest', 'busybox:1.36'], { team: 'core' }),
  image(2, '2024-02-01T00:00:00Z', ['alpine:3'], { team: 'web', tier: 'front' }),
  image(3, '2024-03-01T00:00:00Z', []),
  image(4, '2024-04-01T00:00:00Z', ['127.0.0.1:5000/busybox:local']),
];
const context = {
  resolve: (name: string) => {
    const found = images.find((candidate) =>
      candidate.tags.some((tag) => `${tag.path.replace('library/', '')}:${tag.tag}` === name),
    );
    if (!found) throw new Error(`No such image: ${name}`);
    return found;
  },
  now: new Date('2024-05-01T00:00:00Z'),
};
const ids = (filters: unknown) =>
  filterImages(images, parseImageFilters(filters), context).map(({ image }) => image.id);

describe(parseImageFilters.name, () => {
  it('reads the list form', () => {
    expect(parseImageFilters('{"dangling":["true"],"label":["a=b"]}')).toEqual({ dangling: ['true'], label: ['a=b'] });
  });

  it('reads the older map form', () => {
    expect(parseImageFilters('{"reference":{"busybox":true}}')).toEqual({ reference: ['busybox'] });
  });

  it('treats nothing as no filters', () => {
    expect(parseImageFilters(undefined)).toEqual({});
    expect(parseImageFilters('')).toEqual({});
  });

  it('refuses an unknown filter by name', () => {
    expect(() => parseImageFilters('{"colour":["red"]}')).toThrow("invalid filter 'colour'");
  });

  it('refuses a dangling value that is not a boolean', () => {
    expect(() => parseImageFilters({ dangling: ['maybe'] })).toThrow("invalid filter 'dangling=maybe'");
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseImageFilters('{nope')).toThrow(/invalid filters/);
  });
});

describe(filterImages.name, () => {
  it('keeps only untagged images for dangling=true', () => {
    expect(ids({ dangling: ['true'] })).toEqual([id(3)]);
  });

  it('keeps only tagged images for dangling=false', () => {
    expect(ids({ dangling: ['false'] })).toEqual([id(1), id(2), id(4)]);
  });

  it('matches a label by key', () => {
    expect(ids({ label: ['team'] })).toEqual([id(1), id(2)]);
  });

  it('matches a label by key and value, all labels at once', () => {
    expect(ids({ label: ['team=web'] })).toEqual([id(2)]);
    expect(ids({ label: ['team=web', 'tier=back'] })).toEqual([]);
  });

  it('matches a reference by name and shows only the matching tags', () => {
    const result = filterImages(images, parseImageFilters({ reference: ['busybox:1.*'] }), context);
    expect(result.map(({ image, tags }) => [image.id, tags.map((tag) => tag.tag)])).toEqual([[id(1), ['1.36']]]);
  });

  it('matches a reference by repository name alone', () => {
    expect(ids({ reference: ['busybox'] })).toEqual([id(1)]);
  });

  it('matches a reference with a glob that does not cross /', () => {
    expect(ids({ reference: ['*/busybox'] })).toEqual([id(4)]);
    expect(ids({ reference: ['*box'] })).toEqual([id(1)]);
  });

  it('keeps images created before or since another image', () => {
    expect(ids({ before: ['alpine:3'] })).toEqual([id(1)]);
    expect(ids({ since: ['alpine:3'] })).toEqual([id(3), id(4)]);
  });

  it('keeps images created before an until time or duration', () => {
    expect(ids({ until: ['2024-02-15T00:00:00Z'] })).toEqual([id(1), id(2)]);
    expect(ids({ until: [String(Date.parse('2024-01-15T00:00:00Z') / 1000)] })).toEqual([id(1)]);
    expect(ids({ until: ['1000h'] })).toEqual([id(1), id(2), id(3)]);
  });

  it('fails for a before image that does not exist', () => {
    expect(() => ids({ before: ['nothing:1'] })).toThrow('No such image: nothing:1');
  });
});

describe(globToRegExp.name, () => {
  it('follows path.Match', () => {
    expect(globToRegExp('a*').test('abc')).toBe(true);
    expect(globToRegExp('a*').test('a/b')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('[ab]x').test('bx')).toBe(true);
    expect(globToRegExp('[!ab]x').test('bx')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe(parseTimestamp.name, () => {
  const now = new Date('2024-05-01T00:00:00Z');
  it('reads Unix seconds, dates and Go durations', () => {
    expect(parseTimestamp('1700000000', now)).toBe(1_700_000_000_000);
    expect(parseTimestamp('2024-01-01T00:00:00Z', now)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(parseTimestamp('1h30m', now)).toBe(now.getTime() - 90 * 60_000);
  });

  it('refuses anything else', () => {
    expect(() => parseTimestamp('yesterday', now)).toThrow('invalid timestamp in filter: yesterday');
  });
});
