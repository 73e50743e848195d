import { Injectable } from '@nestjs/common';
import type { ApiTokenEntity } from '../entities/api-token.entity.js';
import { invalidArgument, notFound } from '../errors/domain-error.js';
import { ApiTokenRepository } from '../repositories/api-token.repository.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import { TOKEN_PREFIX, issueToken } from './secret-token.js';

export interface CreatedApiToken {
  entity: ApiTokenEntity;
  token: string;
}

@Injectable()
export class ApiTokenService {
  constructor(
    private readonly tokens: ApiTokenRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async create(actor: Actor, name: string, expiresAt: Date | null, origin: RequestOrigin): Promise<CreatedApiToken> {
    if (expiresAt && expiresAt <= this.clock.now()) {
      throw invalidArgument(`expiresAt must be in the future, not ${expiresAt.toISOString()}`);
    }
    const { token, hash } = issueToken(TOKEN_PREFIX.apiToken);
    const entity = await this.tokens.create({
      userId: actor.userId,
      name,
      tokenHash: hash,
      prefix: token.slice(0, 12),
      expiresAt,
    });
    await this.audit.record({ actor }, origin, {
      action: 'token.create',
      outcome: 'success',
      target: entity.id,
      details: { name, expiresAt: expiresAt?.toISOString() ?? null },
    });
    return { entity, token };
  }

  list(actor: Actor): Promise<ApiTokenEntity[]> {
    return this.tokens.listForUser(actor.userId);
  }

  async revoke(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const revoked = await this.tokens.revoke(actor.userId, id, this.clock.now());
    if (!revoked) throw notFound(`no such API token: ${id}`);
    await this.audit.record({ actor }, origin, { action: 'token.revoke', outcome: 'success', target: id });
  }
}
