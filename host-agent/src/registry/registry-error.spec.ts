import { describe, expect, it } from 'vitest';

import { errorFromDetails, parseErrors } from './registry-error.js';
import { registryOfServerAddress } from './registry-login.js';
import { parseTokenAnswer } from './registry-auth.js';

describe('registry errors', () => {
  it('tells distribution errors as dockerd does, with the kind of their status', () => {
    const details = parseErrors(
      Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'),
    );
    const error = errorFromDetails(404, details, 'manifest for app:1');
    expect(error.message).toBe('manifest for app:1: manifest unknown: manifest unknown');
    expect(error.kind).toBe('not-found');
    expect(error.has('MANIFEST_UNKNOWN')).toBe(true);
    expect(errorFromDetails(401, [], 'x').message).toBe('x: unauthorized: authentication required');
    expect(errorFromDetails(401, [], 'x').kind).toBe('unauthenticated');
    expect(errorFromDetails(503, parseErrors(Buffer.from('<html>')), 'x').kind).toBe('unavailable');
  });
});

describe(registryOfServerAddress.name, () => {
  it('reads the addresses docker login sends', () => {
    expect(registryOfServerAddress('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryOfServerAddress('')).toBe('docker.io');
    expect(registryOfServerAddress('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(registryOfServerAddress('http://Registry.LAN:5000/')).toBe('registry.lan:5000');
    expect(() => registryOfServerAddress('not a host!')).toThrow('invalid registry address');
  });
});

describe(parseTokenAnswer.name, () => {
  it('takes token or access_token, with a default lifetime', () => {
    expect(parseTokenAnswer(Buffer.from('{"token":"abc","expires_in":300}'), 't')).toEqual({
      token: 'abc',
      expiresInSeconds: 300,
    });
    expect(parseTokenAnswer(Buffer.from('{"access_token":"xyz","refresh_token":"r"}'), 't')).toEqual({
      token: 'xyz',
      expiresInSeconds: 60,
      refreshToken: 'r',
    });
  });

  it('refuses an answer without a usable token', () => {
    expect(() => parseTokenAnswer(Buffer.from('{"token":"a b"}'), 'auth.example')).toThrow(
      'the token server auth.example answered without a usable token',
    );
    expect(() => parseTokenAnswer(Buffer.from('<html>'), 'auth.example')).toThrow('answered no JSON');
  });
});
