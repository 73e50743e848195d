import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, auditEventHash, type NewAuditEvent } from './audit.repository.js';

const event: NewAuditEvent & { at: Date } = {
  at: new Date('2026-11-28T00:00:00.000Z'),
  actorType: 'user',
  actorId: '1e037bea-5260-4911-b105-76e5dc8ec57e',
  actorName: 'admin',
  action: 'host.revoke',
  target: 'c0ffee00-0000-4000-8000-000000000000',
  hostId: 'c0ffee00-0000-4000-8000-000000000000',
  outcome: 'success',
  address: '127.0.0.1',
  details: {},
};

describe('auditEventHash', () => {
  it('is a sha256 hex digest, stable for the same event', () => {
    expect(auditEventHash(GENESIS_HASH, event)).toMatch(/^[0-9a-f]{64}$/);
    expect(auditEventHash(GENESIS_HASH, event)).toBe(auditEventHash(GENESIS_HASH, { ...event }));
  });

  it('changes when any recorded field or the previous hash changes', () => {
    const base = auditEventHash(GENESIS_HASH, event);
    const changed = [
      auditEventHash('1'.repeat(64), event),
      auditEventHash(GENESIS_HASH, { ...event, actorName: 'mallory' }),
      auditEventHash(GENESIS_HASH, { ...event, outcome: 'denied' }),
      auditEventHash(GENESIS_HASH, { ...event, at: new Date(event.at.getTime() + 1) }),
      auditEventHash(GENESIS_HASH, { ...event, details: { reason: 'x' } }),
      auditEventHash(GENESIS_HASH, { ...event, address: null }),
    ];
    for (const hash of changed) expect(hash).not.toBe(base);
  });
});
