import { describe, expect, it } from 'vitest';

import { chainIds, parseDigest, sha256Digest, shortId } from './digest.js';

describe(parseDigest.name, () => {
  it('accepts sha256 digests', () => {
    const digest = sha256Digest('x');
    expect(parseDigest(digest)).toBe(digest);
  });

  it('refuses other algorithms with a clear message', () => {
    expect(() => parseDigest(`sha512:${'a'.repeat(128)}`, 'layer digest')).toThrow(
      /unsupported digest algorithm in layer digest sha512:/,
    );
  });

  it('refuses malformed digests', () => {
    expect(() => parseDigest('sha256:XYZ')).toThrow('invalid digest: "sha256:XYZ"');
    expect(() => parseDigest(42)).toThrow('invalid digest: 42');
  });
});

describe(chainIds.name, () => {
  it('starts with the first diff id and hashes each next one onto its parent', () => {
    const a = sha256Digest('a');
    const b = sha256Digest('b');
    expect(chainIds([a, b])).toEqual([a, sha256Digest(`${a} ${b}`)]);
  });
});

describe(shortId.name, () => {
  it('gives 12 hex digits', () => {
    expect(shortId(`sha256:${'0123456789abcdef'.repeat(4)}`)).toBe('0123456789ab');
  });
});
