import { Injectable } from '@nestjs/common';
import type { Permission } from '@skiff/protocol';
import type { ApiTokenEntity } from '../entities/api-token.entity.js';
import { invalidArgument, notFound } from '../errors/domain-error.js';
import { ApiTokenRepository } from '../repositories/api-token.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import { sortPermissions } from './permission-catalogue.js';
import { TOKEN_PREFIX, issueToken } from './secret-token.js';

export interface CreatedApiToken {
  entity: ApiTokenEntity;
  token: string;
}

@Injectable()
export class ApiTokenService {
  constructor(
    private readonly tokens: ApiTokenRepository,
    private readonly access: AccessService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /**
   * `permissions` limits the token to a subset of what the caller holds (globally or on some host
   * group); null gives it all of the owner's permissions, or, when the caller is itself a limited
   * token, that token's.
   */
  async create(
    actor: Actor,
    name: string,
    expiresAt: Date | null,
    requested: readonly Permission[] | null,
    origin: RequestOrigin,
  ): Promise<CreatedApiToken> {
    if (expiresAt && expiresAt <= this.clock.now()) {
      throw invalidArgument(`expiresAt must be in the future, not ${expiresAt.toISOString()}`);
    }
    const access = await this.access.resolve(actor);
    const lacking = requested?.find((permission) => !access.allowsSomewhere(permission));
    if (lacking !== undefined) {
      throw invalidArgument(`cannot give a token the ${lacking} permission: you do not hold it`);
    }
    const permissions = requested
      ? sortPermissions(requested)
      : access.tokenPermissions && sortPermissions(access.tokenPermissions);
    const { token, hash } = issueToken(TOKEN_PREFIX.apiToken);
    const entity = await this.tokens.create({
      userId: actor.userId,
      name,
      tokenHash: hash,
      prefix: token.slice(0, 12),
      expiresAt,
      permissions,
    });
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'token.create',
      outcome: 'success',
      target: entity.id,
      details: { name, expiresAt: expiresAt?.toISOString() ?? null, permissions },
    });
    return { entity, token };
  }

  list(actor: Actor): Promise<ApiTokenEntity[]> {
    return this.tokens.listForUser(actor.userId);
  }

  async revoke(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const revoked = await this.tokens.revoke(actor.userId, id, this.clock.now());
    if (!revoked) throw notFound(`no such API token: ${id}`);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, { action: 'token.revoke', outcome: 'success', target: id });
  }
}
