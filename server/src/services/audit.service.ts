import { Injectable } from '@nestjs/common';
import type { AuditActorType, AuditOutcome } from '../entities/audit-event.entity.js';
import { AuditRepository } from '../repositories/audit.repository.js';
import type { Actor, RequestOrigin } from './actor.js';

export interface AuditRecord {
  action: string;
  outcome: AuditOutcome;
  target?: string | null;
  hostId?: string | null;
  details?: Record<string, unknown>;
}

export type AuditWho =
  { actor: Actor } | { agent: { hostId: string; name: string } } | { anonymous: string | null } | { system: true };

@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  async record(who: AuditWho, origin: RequestOrigin | null, record: AuditRecord): Promise<void> {
    const { actorType, actorId, actorName } = describe(who);
    await this.audit.append({
      actorType,
      actorId,
      actorName,
      action: record.action,
      target: record.target ?? null,
      hostId: record.hostId ?? null,
      outcome: record.outcome,
      address: origin?.address ?? null,
      details: record.details ?? {},
    });
  }
}

function describe(who: AuditWho): { actorType: AuditActorType; actorId: string | null; actorName: string | null } {
  if ('actor' in who) {
    return {
      actorType: who.actor.kind,
      actorId: who.actor.kind === 'token' ? (who.actor.tokenId ?? null) : who.actor.userId,
      actorName: who.actor.username,
    };
  }
  if ('agent' in who) return { actorType: 'agent', actorId: who.agent.hostId, actorName: who.agent.name };
  if ('anonymous' in who) return { actorType: 'anonymous', actorId: null, actorName: who.anonymous };
  return { actorType: 'system', actorId: null, actorName: 'skiff' };
}
