import { describe, expect, it } from 'vitest';

import { credentialsFor, parseRegistryConfigHeader } from './build-handlers.js';

const header = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

describe('X-Registry-Config of POST /build', () => {
  const configs = parseRegistryConfigHeader(
    header({
      'https://index.docker.io/v1/': { username: 'hub-user', password: 'hub-secret' },
      '127.0.0.1:5000': { auth: Buffer.from('local:pw').toString('base64') },
    }),
  );

  it('gives each registry only its own credentials, Docker Hub under docker.io', () => {
    expect(credentialsFor(configs, 'docker.io')).toEqual({
      kind: 'basic',
      username: 'hub-user',
      password: 'hub-secret',
    });
    expect(credentialsFor(configs, '127.0.0.1:5000')).toEqual({ kind: 'basic', username: 'local', password: 'pw' });
    expect(credentialsFor(configs, 'registry.example.com')).toEqual({ kind: 'anonymous' });
  });

  it('takes the CLI’s empty `e30=` as no credentials and refuses what is not base64 JSON', () => {
    expect(parseRegistryConfigHeader('e30=').size).toBe(0);
    expect(parseRegistryConfigHeader(undefined).size).toBe(0);
    expect(() => parseRegistryConfigHeader('not json')).toThrow(/X-Registry-Config/);
    expect(() => parseRegistryConfigHeader(header([1]))).toThrow(/X-Registry-Config/);
  });
});
