import { describe, expect, it } from 'vitest';
import { connectionHint } from './registry-http.js';

const error = (code: string) => Object.assign(new Error(code), { code });
const hub = new URL('https://registry-1.docker.io/v2/');

describe('connectionHint', () => {
  it('says what to do when the registry cannot be reached', () => {
    expect(connectionHint(error('ENOTFOUND'), hub)).toMatch(
      /registry-1\.docker\.io does not resolve.*registry-mirrors/,
    );
    expect(connectionHint(error('ECONNREFUSED'), new URL('http://127.0.0.1:5000/v2/'))).toMatch(
      /nothing listens on 127\.0\.0\.1:5000/,
    );
    expect(connectionHint(error('ETIMEDOUT'), hub)).toMatch(/cannot be reached/);
  });

  it('adds nothing to other errors', () => {
    expect(connectionHint(error('EPROTO'), hub)).toBe('');
    expect(connectionHint(new Error('plain'), hub)).toBe('');
  });
});
