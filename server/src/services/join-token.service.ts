import { Injectable } from '@nestjs/common';
import { invalidArgument } from '../errors/domain-error.js';
import { JoinTokenRepository } from '../repositories/join-token.repository.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import { TOKEN_PREFIX, issueToken } from './secret-token.js';

export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 3600;
export const MAX_JOIN_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export interface CreatedJoinToken {
  id: string;
  token: string;
  expiresAt: Date;
}

@Injectable()
export class JoinTokenService {
  constructor(
    private readonly tokens: JoinTokenRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /** `actor` is null when the server makes a token for its own local agent (`skiff-server join-token`). */
  async create(
    actor: Actor | null,
    ttlSeconds: number = DEFAULT_JOIN_TOKEN_TTL_SECONDS,
    origin: RequestOrigin | null = null,
  ): Promise<CreatedJoinToken> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_JOIN_TOKEN_TTL_SECONDS) {
      throw invalidArgument(`ttlSeconds must be a whole number from 60 to ${MAX_JOIN_TOKEN_TTL_SECONDS}`);
    }
    const { token, hash } = issueToken(TOKEN_PREFIX.joinToken);
    const expiresAt = new Date(this.clock.now().getTime() + ttlSeconds * 1000);
    const entity = await this.tokens.create(hash, actor?.userId ?? null, expiresAt);
    await this.audit.record(actor ? { actor } : { system: true }, origin, {
      action: 'join-token.create',
      outcome: 'success',
      target: entity.id,
      details: { expiresAt: expiresAt.toISOString() },
    });
    return { id: entity.id, token, expiresAt };
  }
}
