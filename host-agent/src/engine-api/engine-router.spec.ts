import { describe, expect, it } from 'vitest';
import { EngineRouter } from './engine-router.js';

describe(EngineRouter.name, () => {
  it('finds a handler by its route key', () => {
    const router = new EngineRouter();
    const handler = () => {};

    router.handle('GET /info', handler);

    expect(router.lookup('GET /info')).toEqual({ kind: 'plain', handler });
    expect(router.lookup('GET /version')).toBeUndefined();
    expect(router.registeredKeys()).toEqual(['GET /info']);
  });

  it('keeps hijack handlers apart from plain ones', () => {
    const router = new EngineRouter();
    const handler = () => Promise.resolve();

    router.hijack('POST /exec/{id}/start', handler);

    expect(router.lookup('POST /exec/{id}/start')).toEqual({ kind: 'hijack', handler });
  });

  it('refuses a second handler for one route', () => {
    const router = new EngineRouter().handle('GET /info', () => {});

    expect(() => router.handle('GET /info', () => {})).toThrow('GET /info already has a handler');
  });

  it('refuses a key outside the table', () => {
    expect(() => new EngineRouter().handle('GET /swarm' as 'GET /info', () => {})).toThrow('not in the route table');
  });

  it('refuses a hijacked route registered as plain, and the reverse', () => {
    const router = new EngineRouter();

    expect(() => router.handle('POST /containers/{id}/attach' as 'GET /info', () => {})).toThrow(/hijack\(\)/);
    expect(() => router.hijack('GET /info' as 'POST /exec/{id}/start', () => Promise.resolve())).toThrow(/handle\(\)/);
  });
});
