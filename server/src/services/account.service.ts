import { Injectable } from '@nestjs/common';
import type { Permission } from '@skiff/protocol';
import type { UserEntity } from '../entities/user.entity.js';
import { conflict, forbidden, invalidArgument, unauthenticated } from '../errors/domain-error.js';
import { HostRepository } from '../repositories/host.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { AccessService } from './access.service.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { AuthService } from './auth.service.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { hashPassword, passwordMatches } from './password-hash.js';
import { sortPermissions } from './permission-catalogue.js';
import { type TotpEnrolment, TotpService } from './totp.service.js';

export interface MyPermissions {
  global: Permission[];
  hostGroups: Array<{ group: { id: string; name: string }; permissions: Permission[] }>;
  /** Every host the caller may see, with what they may do on it. */
  hosts: Record<string, Permission[]>;
}

/** The caller's own account: password, two-factor sign-in, and what they may do. */
@Injectable()
export class AccountService {
  constructor(
    private readonly users: UserRepository,
    private readonly auth: AuthService,
    private readonly hosts: HostRepository,
    private readonly access: AccessService,
    private readonly totp: TotpService,
    private readonly throttle: LoginThrottleService,
    private readonly audit: AuditService,
  ) {}

  /** What the console needs to hide what the caller may not do. */
  async permissions(actor: Actor): Promise<MyPermissions> {
    const access = await this.access.resolve(actor);
    const hosts: Record<string, Permission[]> = {};
    for (const host of await this.hosts.listActive()) {
      if (access.allows('host.view', host)) hosts[host.id] = sortPermissions(access.permissionsOn(host));
    }
    return {
      global: sortPermissions(access.globalPermissions()),
      hostGroups: access
        .groupPermissions()
        .map(({ group, permissions }) => ({ group, permissions: sortPermissions(permissions) })),
      hosts,
    };
  }

  /** Ends the caller's other sessions; wrong current passwords count as failed sign-ins. */
  async changePassword(
    actor: Actor,
    currentPassword: string,
    newPassword: string,
    origin: RequestOrigin,
  ): Promise<void> {
    const user = await this.signedInUser(actor, 'change your password');
    this.throttle.check(user.username, origin.address);
    if (!(await passwordMatches(user.passwordHash, currentPassword))) {
      this.throttle.recordFailure(user.username, origin.address);
      await this.audit.record({ actor }, origin, {
        action: 'auth.password-change',
        outcome: 'failure',
        target: user.id,
        details: { reason: 'wrong-password' },
      });
      throw forbidden('the current password is wrong');
    }
    await this.users.setPasswordHash(user.id, await hashPassword(newPassword));
    await this.auth.endSessions(user.id, actor.sessionId);
    await this.audit.record({ actor }, origin, { action: 'auth.password-change', outcome: 'success', target: user.id });
  }

  /** Makes a new secret; two-factor sign-in is on once a code from it is confirmed. */
  async startTotp(actor: Actor, origin: RequestOrigin): Promise<TotpEnrolment> {
    const user = await this.signedInUser(actor, 'set up two-factor sign-in');
    if (user.totpEnabledAt) throw conflict('two-factor sign-in is already on; turn it off first');
    const enrolment = await this.totp.startEnrolment(user);
    await this.audit.record({ actor }, origin, { action: 'auth.totp-enrol', outcome: 'success', target: user.id });
    return enrolment;
  }

  async confirmTotp(actor: Actor, code: string, origin: RequestOrigin): Promise<void> {
    const user = await this.signedInUser(actor, 'set up two-factor sign-in');
    if (user.totpEnabledAt) throw conflict('two-factor sign-in is already on');
    if (!user.totpSecret) throw conflict('start with POST /api/me/totp, then confirm a code from the new secret');
    await this.checkCode(actor, user, code, 'auth.totp-enable', origin);
    await this.totp.confirm(user);
    await this.audit.record({ actor }, origin, { action: 'auth.totp-enable', outcome: 'success', target: user.id });
  }

  async disableTotp(actor: Actor, code: string, origin: RequestOrigin): Promise<void> {
    const user = await this.signedInUser(actor, 'turn two-factor sign-in off');
    if (!user.totpEnabledAt) throw conflict('two-factor sign-in is not on');
    await this.checkCode(actor, user, code, 'auth.totp-disable', origin);
    await this.totp.clear(user);
    await this.audit.record({ actor }, origin, { action: 'auth.totp-disable', outcome: 'success', target: user.id });
  }

  /** A wrong code counts as a failed sign-in, so codes cannot be guessed through these routes either. */
  private async checkCode(
    actor: Actor,
    user: UserEntity,
    code: string,
    action: string,
    origin: RequestOrigin,
  ): Promise<void> {
    this.throttle.check(user.username, origin.address);
    if (await this.totp.verify(user, code)) return;
    this.throttle.recordFailure(user.username, origin.address);
    await this.audit.record({ actor }, origin, {
      action,
      outcome: 'failure',
      target: user.id,
      details: { reason: 'wrong-totp' },
    });
    throw invalidArgument('wrong or already used TOTP code');
  }

  /** Credentials change only from a signed-in browser, not with an API token. */
  private async signedInUser(actor: Actor, what: string): Promise<UserEntity> {
    if (actor.kind !== 'user') throw forbidden(`sign in to ${what}; an API token cannot`);
    const user = await this.users.findById(actor.userId);
    if (!user || user.disabledAt) throw unauthenticated('your account no longer exists or is disabled');
    return user;
  }
}
