import { describe, expect, it } from 'vitest';

import { parseLoginBody, parseRegistryAuthHeader } from './registry-credentials.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe(parseRegistryAuthHeader.name, () => {
  it("reads the CLI's empty {} and a missing header as anonymous", () => {
    expect(parseRegistryAuthHeader('e30=')).toEqual({ kind: 'anonymous' });
    expect(parseRegistryAuthHeader(undefined)).toEqual({ kind: 'anonymous' });
  });

  it('reads username and password, in base64url or standard base64', () => {
    const value = { username: 'alice', password: 'p?>s~', serveraddress: '127.0.0.1:5000' };
    expect(parseRegistryAuthHeader(encode(value))).toEqual({ kind: 'basic', username: 'alice', password: 'p?>s~' });
    expect(parseRegistryAuthHeader(Buffer.from(JSON.stringify(value)).toString('base64'))).toEqual({
      kind: 'basic',
      username: 'alice',
      password: 'p?>s~',
    });
  });

  it('reads the auth field, an identity token and a registry token', () => {
    expect(parseRegistryAuthHeader(encode({ auth: Buffer.from('bob:se:cret').toString('base64') }))).toEqual({
      kind: 'basic',
      username: 'bob',
      password: 'se:cret',
    });
    expect(parseRegistryAuthHeader(encode({ username: 'bob', identitytoken: 'refresh' }))).toEqual({
      kind: 'identity-token',
      username: 'bob',
      token: 'refresh',
    });
    expect(parseRegistryAuthHeader(encode({ registrytoken: 'bearer-token' }))).toEqual({
      kind: 'registry-token',
      token: 'bearer-token',
    });
  });

  it('refuses what is not base64url JSON, or fields of the wrong type', () => {
    expect(() => parseRegistryAuthHeader('not base64!')).toThrow('invalid X-Registry-Auth header');
    expect(() => parseRegistryAuthHeader(Buffer.from('[1]').toString('base64'))).toThrow('expected a JSON object');
    expect(() => parseRegistryAuthHeader(encode({ username: 1 }))).toThrow('username must be a string');
    expect(() => parseRegistryAuthHeader(encode({ password: 'x' }))).toThrow('a password without a username');
    expect(() => parseRegistryAuthHeader(encode({ username: 'a\nb', password: 'x' }))).toThrow('control characters');
    expect(() => parseRegistryAuthHeader('A'.repeat(70_000))).toThrow('too long');
  });
});

describe(parseLoginBody.name, () => {
  it('reads what docker login sends', () => {
    expect(parseLoginBody({ username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5000' })).toEqual({
      credentials: { kind: 'basic', username: 'alice', password: 'pw' },
      serverAddress: '127.0.0.1:5000',
    });
  });

  it('refuses a request without a body', () => {
    expect(() => parseLoginBody(undefined)).toThrow('the login request has no body');
  });
});
