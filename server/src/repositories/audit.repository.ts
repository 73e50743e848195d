import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditEventEntity } from '../entities/audit-event.entity.js';

export type NewAuditEvent = Omit<AuditEventEntity, 'id' | 'at' | 'prevHash' | 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/** The fields that a row's hash covers, in a fixed order. */
export function auditEventHash(prevHash: string, event: NewAuditEvent & { at: Date }): string {
  const canonical = JSON.stringify([
    prevHash,
    event.at.toISOString(),
    event.actorType,
    event.actorId,
    event.actorName,
    event.action,
    event.target,
    event.hostId,
    event.outcome,
    event.address,
    event.details,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Appends one event, chained to the one before it. Appends are serialised by an advisory lock. */
  append(event: NewAuditEvent): Promise<AuditEventEntity> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('skiff.audit_events'))`);
      const repository = manager.getRepository(AuditEventEntity);
      const [last] = await repository.find({ order: { id: 'DESC' }, take: 1 });
      const prevHash = last?.hash ?? GENESIS_HASH;
      const at = new Date();
      const hash = auditEventHash(prevHash, { ...event, at });
      return repository.save(repository.create({ ...event, at, prevHash, hash }));
    });
  }

  list(limit: number): Promise<AuditEventEntity[]> {
    return this.dataSource.getRepository(AuditEventEntity).find({ order: { id: 'DESC' }, take: limit });
  }
}
