import { describe, expect, it } from 'vitest';

import { pullReference } from './registry-handlers.js';

describe(pullReference.name, () => {
  it('reads fromImage and tag as the docker CLI sends them', () => {
    expect(pullReference('127.0.0.1:5000/busybox', 'local')).toEqual({
      domain: '127.0.0.1:5000',
      path: 'busybox',
      tag: 'local',
    });
    expect(pullReference('busybox', 'latest')).toEqual({ domain: 'docker.io', path: 'library/busybox', tag: 'latest' });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(pullReference('busybox', digest)).toEqual({ domain: 'docker.io', path: 'library/busybox', digest });
    expect(pullReference(`busybox@${digest}`, undefined)).toEqual({
      domain: 'docker.io',
      path: 'library/busybox',
      digest,
    });
  });

  it('leaves the tag out when none is given (all tags), and refuses bad input', () => {
    expect(pullReference('user/app', '')).toEqual({ domain: 'docker.io', path: 'user/app' });
    expect(() => pullReference('Bad Name', 'x')).toThrow('invalid reference format');
    expect(() => pullReference('busybox', 'md5:abc')).toThrow('is not a sha256 digest');
    expect(() => pullReference('busybox', 'bad tag!')).toThrow('invalid reference format');
  });
});
