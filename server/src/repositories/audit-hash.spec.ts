import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  type HashedAuditEvent,
  auditEventHash,
  auditEventHashMatches,
  canonicalJson,
} from './audit-hash.js';

const event: HashedAuditEvent = {
  at: new Date('2026-11-28T00:00:00.000Z'),
  actorType: 'token',
  actorId: '5d2b3c1e-0000-4000-8000-000000000001',
  actorName: 'admin',
  userId: '1e037bea-5260-4911-b105-76e5dc8ec57e',
  action: 'container.create',
  target: 'web-1',
  hostId: 'c0ffee00-0000-4000-8000-000000000000',
  outcome: 'success',
  status: 201,
  error: null,
  durationMs: 42,
  address: '127.0.0.1',
  client: 'Docker-Client/27.3.1 (linux)',
  details: { body: { Image: 'busybox', Env: ['A=1'] }, route: 'POST /containers/create' },
  hashVersion: 2,
};

/** How rows were hashed before version 2 (the code as it was), to prove they still verify. */
function legacyHash(prevHash: string, row: HashedAuditEvent): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        prevHash,
        row.at.toISOString(),
        row.actorType,
        row.actorId,
        row.actorName,
        row.action,
        row.target,
        row.hostId,
        row.outcome,
        row.address,
        row.details,
      ]),
    )
    .digest('hex');
}

describe('auditEventHash', () => {
  it('is a sha256 hex digest, stable for the same event', () => {
    expect(auditEventHash(GENESIS_HASH, event)).toMatch(/^[0-9a-f]{64}$/);
    expect(auditEventHash(GENESIS_HASH, event)).toBe(auditEventHash(GENESIS_HASH, { ...event }));
  });

  it('changes when any recorded field, the version or the previous hash changes', () => {
    const base = auditEventHash(GENESIS_HASH, event);
    const changes: Array<Partial<HashedAuditEvent>> = [
      { at: new Date(event.at.getTime() + 1) },
      { actorType: 'user' },
      { actorId: null },
      { actorName: 'mallory' },
      { userId: null },
      { action: 'container.remove' },
      { target: 'web-2' },
      { hostId: null },
      { outcome: 'denied' },
      { status: 403 },
      { error: 'no' },
      { durationMs: 43 },
      { address: null },
      { client: 'curl/8.5.0' },
      { details: { ...event.details, extra: true } },
      { hashVersion: 1 },
    ];
    expect(auditEventHash('1'.repeat(64), event)).not.toBe(base);
    for (const change of changes)
      expect(auditEventHash(GENESIS_HASH, { ...event, ...change }), JSON.stringify(change)).not.toBe(base);
  });

  it('does not depend on the key order of details (jsonb gives keys back in its own order)', () => {
    const reordered = {
      ...event,
      details: { route: 'POST /containers/create', body: { Env: ['A=1'], Image: 'busybox' } },
    };
    expect(auditEventHash(GENESIS_HASH, reordered)).toBe(auditEventHash(GENESIS_HASH, event));
  });

  it('keeps the version 1 form for rows written before version 2', () => {
    const old: HashedAuditEvent = { ...event, hashVersion: 1, details: { reason: 'x' } };
    expect(auditEventHash(GENESIS_HASH, old)).toBe(legacyHash(GENESIS_HASH, old));
  });
});

describe('auditEventHashMatches', () => {
  it('accepts a version 1 row whose details jsonb gave back in another key order', () => {
    const written: HashedAuditEvent = {
      ...event,
      hashVersion: 1,
      details: { username: 'admin', reason: 'first start' },
    };
    const hash = legacyHash(GENESIS_HASH, written);
    const readBack = { ...written, details: { reason: 'first start', username: 'admin' } };
    expect(auditEventHash(GENESIS_HASH, readBack)).not.toBe(hash);
    expect(auditEventHashMatches(GENESIS_HASH, readBack, hash)).toBe(true);
    expect(auditEventHashMatches(GENESIS_HASH, { ...readBack, actorName: 'mallory' }, hash)).toBe(false);
  });

  it('does not try other key orders for version 2 rows', () => {
    const hash = auditEventHash(GENESIS_HASH, event);
    expect(auditEventHashMatches(GENESIS_HASH, event, hash)).toBe(true);
    expect(auditEventHashMatches(GENESIS_HASH, { ...event, status: 500 }, hash)).toBe(false);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and leaves undefined members out', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined, b: null }], é: 'x' })).toBe(
      '{"a":[{"b":null,"d":2}],"b":1,"é":"x"}',
    );
  });
});
