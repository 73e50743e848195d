import { describe, expect, it } from 'vitest';
import { cookieValue } from './console.gateway.js';

describe('cookieValue', () => {
  it('finds a cookie among others', () => {
    expect(cookieValue('a=1; skiff_session=sks_abc; b=2', 'skiff_session')).toBe('sks_abc');
  });

  it('does not match a cookie whose name only ends with the one asked for', () => {
    expect(cookieValue('not_skiff_session=x', 'skiff_session')).toBeUndefined();
  });

  it('answers undefined for a missing header or a badly encoded value', () => {
    expect(cookieValue(undefined, 'skiff_session')).toBeUndefined();
    expect(cookieValue('skiff_session=%E0%A4%A', 'skiff_session')).toBeUndefined();
  });
});
