import { describe, expect, it } from 'vitest';

import { parsePairs } from './key-value-lines';

describe(parsePairs.name, () => {
  it('reads one pair a line, skipping blank lines and trimming the key', () => {
    expect(parsePairs('team=ops\n\n  purpose = e2e test\n', 'Labels')).toEqual({ team: 'ops', purpose: ' e2e test' });
  });

  it('keeps every = after the first in the value, and an empty value', () => {
    expect(parsePairs('o=bind,uid=1000\nempty=', 'Driver options')).toEqual({ o: 'bind,uid=1000', empty: '' });
  });

  it('lets a later line win for a repeated key', () => {
    expect(parsePairs('a=1\na=2', 'Labels')).toEqual({ a: '2' });
  });

  it('reads nothing from an empty box', () => {
    expect(parsePairs('', 'Labels')).toEqual({});
    expect(parsePairs('\n  \n', 'Labels')).toEqual({});
  });

  it('names the box and the line that is not a pair', () => {
    expect(() => parsePairs('team=ops\njust words', 'Labels')).toThrow('Labels, line 2: write key=value.');
    expect(() => parsePairs('=value', 'Driver options')).toThrow('Driver options, line 1: write key=value.');
    expect(() => parsePairs('  =value', 'Labels')).toThrow('Labels, line 1: write key=value.');
  });
});
