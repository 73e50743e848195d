import { Injectable } from '@nestjs/common';
import type { UserEntity } from '../entities/user.entity.js';
import { conflict, forbidden, notFound } from '../errors/domain-error.js';
import { UserRepository } from '../repositories/user.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { AuthService } from './auth.service.js';
import { Clock } from './clock.js';
import { LastUserManagerService } from './last-user-manager.service.js';
import { hashPassword } from './password-hash.js';
import { TotpService } from './totp.service.js';

/** People, as those with user.manage see and change them. */
@Injectable()
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly auth: AuthService,
    private readonly access: AccessService,
    private readonly lastManager: LastUserManagerService,
    private readonly totp: TotpService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  list(): Promise<UserEntity[]> {
    return this.users.list();
  }

  async get(id: string): Promise<UserEntity> {
    const user = await this.users.findById(id);
    if (!user) throw notFound(`no such user: ${id}`);
    return user;
  }

  /** A new user holds nothing until granted a role. */
  async create(actor: Actor, username: string, password: string, origin: RequestOrigin): Promise<UserEntity> {
    const taken = () => conflict(`a user named "${username}" already exists`);
    if (await this.users.findByUsername(username)) throw taken();
    const user = await this.users.create(username, await hashPassword(password));
    if (!user) throw taken();
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'user.create',
      outcome: 'success',
      target: user.id,
      details: { username },
    });
    return user;
  }

  /** A disabled user cannot sign in, and their sessions and API tokens stop working at once. */
  async setDisabled(actor: Actor, id: string, disabled: boolean, origin: RequestOrigin): Promise<UserEntity> {
    const user = await this.get(id);
    if (Boolean(user.disabledAt) === disabled) return user;
    if (disabled) {
      if (id === actor.userId) throw forbidden('you cannot disable your own account');
      await this.lastManager.ensureOneRemains(`disable ${user.username}`, (holding) => holding.userId === id);
    }
    await this.users.setDisabled(id, disabled ? this.clock.now() : null);
    if (disabled) await this.auth.endSessions(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: disabled ? 'user.disable' : 'user.enable',
      outcome: 'success',
      target: id,
      details: { username: user.username },
    });
    return this.get(id);
  }

  /** Sets a new password; every session of the user ends (but the caller's own, when it is theirs). */
  async resetPassword(actor: Actor, id: string, password: string, origin: RequestOrigin): Promise<void> {
    const user = await this.get(id);
    await this.users.setPasswordHash(id, await hashPassword(password));
    await this.auth.endSessions(id, id === actor.userId ? actor.sessionId : undefined);
    await this.audit.record({ actor }, origin, {
      action: 'user.password-reset',
      outcome: 'success',
      target: id,
      details: { username: user.username },
    });
  }

  /** Turns two-factor sign-in off for a user who lost their authenticator. */
  async clearTotp(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const user = await this.get(id);
    if (!user.totpSecret) return;
    await this.totp.clear(user);
    await this.audit.record({ actor }, origin, {
      action: 'user.totp-clear',
      outcome: 'success',
      target: id,
      details: { username: user.username },
    });
  }

  /** Deletes the user with their sessions, API tokens, team memberships and grants. */
  async delete(actor: Actor, id: string, origin: RequestOrigin): Promise<void> {
    const user = await this.get(id);
    if (id === actor.userId) throw forbidden('you cannot delete your own account');
    await this.lastManager.ensureOneRemains(`delete ${user.username}`, (holding) => holding.userId === id);
    await this.auth.endSessions(id);
    await this.users.delete(id);
    this.access.invalidate();
    await this.audit.record({ actor }, origin, {
      action: 'user.delete',
      outcome: 'success',
      target: id,
      details: { username: user.username },
    });
  }
}
