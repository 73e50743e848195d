import { describe, expect, it } from 'vitest';
import { EngineError } from '../engine-error.js';
import { API_VERSION, MIN_API_VERSION, compareApiVersions, negotiateApiVersion } from './api-version.js';

describe(compareApiVersions.name, () => {
  it('compares number by number, not as text', () => {
    expect(compareApiVersions('1.5', '1.24')).toBeLessThan(0);
    expect(compareApiVersions('1.41', '1.24')).toBeGreaterThan(0);
    expect(compareApiVersions('1.41', '1.41')).toBe(0);
    expect(compareApiVersions('2.0', '1.99')).toBeGreaterThan(0);
    expect(compareApiVersions('1.41.0', '1.41')).toBe(0);
  });
});

describe(negotiateApiVersion.name, () => {
  it('announces 1.41 with 1.24 as the oldest', () => {
    expect(API_VERSION).toBe('1.41');
    expect(MIN_API_VERSION).toBe('1.24');
  });

  it('serves an unversioned path at the announced version', () => {
    expect(negotiateApiVersion(undefined)).toBe('1.41');
  });

  it('serves any version from the oldest to the announced one as asked', () => {
    expect(negotiateApiVersion('1.41')).toBe('1.41');
    expect(negotiateApiVersion('1.30')).toBe('1.30');
    expect(negotiateApiVersion('1.24')).toBe('1.24');
  });

  it('refuses a version above the announced one with invalid-argument', () => {
    expect(() => negotiateApiVersion('1.99')).toThrow(EngineError);
    expect(() => negotiateApiVersion('1.99')).toThrow(/client version 1\.99 is too new.*up to 1\.41/);
    expect(() => negotiateApiVersion('1.42')).toThrow(/too new/);
    try {
      negotiateApiVersion('1.50');
    } catch (error) {
      expect((error as EngineError).kind).toBe('invalid-argument');
    }
  });

  it('refuses a version below the oldest with invalid-argument', () => {
    expect(() => negotiateApiVersion('1.23')).toThrow(/client version 1\.23 is too old.*from 1\.24/);
    expect(() => negotiateApiVersion('1.0')).toThrow(/too old/);
  });
});
