import { describe, expect, it } from 'vitest';
import { errorMessage } from './error-message.js';

describe(errorMessage.name, () => {
  it('follows the cause chain, as fetch hides the network error there', () => {
    const error = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:8080') });

    expect(errorMessage(error)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:8080');
  });

  it('describes values that are not errors', () => {
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(undefined)).toBe('unknown error');
  });
});
