import { describe, expect, it } from 'vitest';
import type { AuditEventEntity } from '../entities/audit-event.entity.js';
import { CURRENT_HASH_VERSION, GENESIS_HASH, auditEventHash } from '../repositories/audit-hash.js';
import { AuditChainVerifier } from './audit-chain.js';

function chain(length: number, prevHash = GENESIS_HASH, firstId = 1): AuditEventEntity[] {
  const rows: AuditEventEntity[] = [];
  for (let i = 0; i < length; i++) {
    const content = {
      at: new Date(Date.UTC(2026, 10, 28, 0, 0, i)),
      actorType: 'user' as const,
      actorId: 'u1',
      actorName: 'admin',
      userId: null,
      action: 'test.step',
      target: `t${i}`,
      hostId: null,
      outcome: 'success' as const,
      status: 200,
      error: null,
      durationMs: 1,
      address: null,
      client: null,
      details: { i },
      hashVersion: CURRENT_HASH_VERSION,
    };
    const previous = rows.length === 0 ? prevHash : rows[rows.length - 1].hash;
    rows.push({ ...content, id: String(firstId + i), prevHash: previous, hash: auditEventHash(previous, content) });
  }
  return rows;
}

function verify(rows: AuditEventEntity[], vouchers: AuditEventEntity[] = []) {
  const verifier = new AuditChainVerifier();
  rows.every((row, index) => verifier.check(row, index === 0 ? vouchers : []));
  return verifier.result();
}

describe(AuditChainVerifier.name, () => {
  it('accepts an intact chain and says which rows it checked', () => {
    expect(verify(chain(5))).toEqual({ ok: true, checked: 5, firstRowId: '1', lastRowId: '5' });
  });

  it('accepts an empty log', () => {
    expect(verify([])).toEqual({ ok: true, checked: 0, firstRowId: null, lastRowId: null });
  });

  it('names a row whose content was changed', () => {
    const rows = chain(5);
    rows[2] = { ...rows[2], target: 'forged' };
    expect(verify(rows)).toMatchObject({ ok: false, checked: 3, lastRowId: '3', brokenAt: { id: '3' } });
    expect(verify(rows).brokenAt?.reason).toMatch(/does not match its content/);
  });

  it('names the row after one that was removed', () => {
    const rows = chain(5);
    rows.splice(2, 1);
    expect(verify(rows).brokenAt).toEqual({ id: '4', reason: expect.stringMatching(/not the hash of row 2/) });
  });

  it('names the row after one that was changed together with its own hash', () => {
    const rows = chain(5);
    const forged = { ...rows[1], target: 'forged' };
    rows[1] = { ...forged, hash: auditEventHash(forged.prevHash, forged) };
    expect(verify(rows).brokenAt?.id).toBe('3');
  });

  it('names the first row only, even when later rows are broken too', () => {
    const rows = chain(6);
    rows[1] = { ...rows[1], outcome: 'denied' };
    rows[4] = { ...rows[4], outcome: 'denied' };
    expect(verify(rows).brokenAt?.id).toBe('2');
  });

  it('refuses a first row that follows removed rows without a retention row', () => {
    const rows = chain(5).slice(2);
    expect(verify(rows).brokenAt).toEqual({ id: '3', reason: expect.stringMatching(/retention/) });
  });

  it('accepts a first row that follows rows removed by retention', () => {
    const all = chain(5);
    const kept = all.slice(2);
    const voucher = {
      ...all[4],
      id: '9',
      action: 'audit.retention',
      details: { removed: 2, firstId: '1', lastId: '2', lastRemovedHash: all[1].hash },
    };
    expect(verify(kept, [voucher])).toMatchObject({ ok: true, checked: 3, firstRowId: '3' });
    expect(verify(kept, [{ ...voucher, details: { ...voucher.details, lastRemovedHash: all[0].hash } }]).ok).toBe(
      false,
    );
    expect(verify(kept, [{ ...voucher, action: 'auth.login' }]).ok).toBe(false);
    // A retention row cannot vouch for rows after the ones it removed.
    expect(verify(kept, [{ ...voucher, details: { ...voucher.details, lastId: '7' } }]).ok).toBe(false);
  });
});
