import { Inject, Injectable } from '@nestjs/common';
import * as argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { SERVER_CONFIG } from '../config/config.module.js';
import type { ServerConfig } from '../config/server-config.js';
import type { UserEntity } from '../entities/user.entity.js';
import { forbidden, unauthenticated } from '../errors/domain-error.js';
import { ApiTokenRepository } from '../repositories/api-token.repository.js';
import { ConsoleFeedRepository } from '../repositories/console-feed.repository.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AuditService } from './audit.service.js';
import { Clock } from './clock.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { TOKEN_PREFIX, hashToken, issueToken, sameSecret } from './secret-token.js';
import { TotpService } from './totp.service.js';

export interface SignedIn {
  user: { id: string; username: string };
  /** The session cookie's value: never stored, only its hash is. */
  sessionToken: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface ResolvedSession {
  actor: Actor;
  csrfToken: string;
}

/** How often a session's last-used time is written back at most. */
const TOUCH_EVERY_MS = 60_000;

// Verified against when the account does not exist, so a wrong username costs as much as a wrong password.
const DUMMY_HASH = argon2.hash('skiff-no-such-user', { type: argon2.argon2id });

@Injectable()
export class AuthService {
  constructor(
    @Inject(SERVER_CONFIG) private readonly config: ServerConfig,
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly apiTokens: ApiTokenRepository,
    private readonly throttle: LoginThrottleService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly feed: ConsoleFeedRepository,
    private readonly totp: TotpService,
  ) {}

  /**
   * `totp` is the current code of an account with two-factor sign-in; without it such an account
   * gets `unauthenticated` with `totpRequired: true`, and a wrong code counts as a failed attempt.
   */
  async login(username: string, password: string, totp: string | undefined, origin: RequestOrigin): Promise<SignedIn> {
    try {
      this.throttle.check(username, origin.address);
    } catch (error) {
      await this.audit.record({ anonymous: username }, origin, {
        action: 'auth.login',
        outcome: 'denied',
        details: { reason: 'rate-limited' },
      });
      throw error;
    }
    const user = await this.users.findByUsername(username);
    const passwordMatches = await argon2.verify(user?.passwordHash ?? (await DUMMY_HASH), password);
    if (!user || !passwordMatches || user.disabledAt) {
      this.throttle.recordFailure(username, origin.address);
      await this.audit.record({ anonymous: username }, origin, {
        action: 'auth.login',
        outcome: 'failure',
        details: { reason: user?.disabledAt && passwordMatches ? 'account-disabled' : 'wrong-credentials' },
      });
      if (user?.disabledAt && passwordMatches) throw forbidden(`account "${user.username}" is disabled`);
      throw unauthenticated('wrong username or password');
    }
    if (user.totpEnabledAt) await this.checkTotp(user, totp, origin);
    this.throttle.recordSuccess(username);
    const signedIn = await this.openSession(user, origin);
    await this.audit.record({ actor: { kind: 'user', userId: user.id, username: user.username } }, origin, {
      action: 'auth.login',
      outcome: 'success',
    });
    return signedIn;
  }

  async logout(sessionToken: string, actor: Actor, origin: RequestOrigin): Promise<void> {
    await this.sessions.deleteByHash(hashToken(sessionToken));
    if (actor.sessionId) this.feed.endSession(actor.sessionId);
    await this.audit.record({ actor }, origin, { action: 'auth.logout', outcome: 'success' });
  }

  /** The actor behind a session cookie, or null when it is unknown, expired or its user disabled. */
  async resolveSession(sessionToken: string): Promise<ResolvedSession | null> {
    const now = this.clock.now();
    const session = await this.sessions.findUnexpiredByHash(hashToken(sessionToken), now);
    if (!session) return null;
    const user = await this.users.findById(session.userId);
    if (!user || user.disabledAt) return null;
    if (now.getTime() - session.lastUsedAt.getTime() > TOUCH_EVERY_MS) await this.sessions.touch(session.id, now);
    return {
      actor: { kind: 'user', userId: user.id, username: user.username, sessionId: session.id },
      csrfToken: session.csrfToken,
    };
  }

  /** The actor behind an API token; throws with the reason when the token cannot be used. */
  async resolveApiToken(token: string): Promise<Actor> {
    const found = await this.apiTokens.findActiveByHash(hashToken(token));
    if (!found) throw unauthenticated('unknown or revoked API token');
    const now = this.clock.now();
    if (found.expiresAt && found.expiresAt <= now) {
      throw unauthenticated(`API token "${found.name}" expired at ${found.expiresAt.toISOString()}`);
    }
    const user = await this.users.findById(found.userId);
    if (!user || user.disabledAt) throw unauthenticated('the owner of this API token is disabled');
    if (!found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await this.apiTokens.touch(found.id, now);
    }
    return { kind: 'token', userId: user.id, username: user.username, tokenId: found.id };
  }

  private async checkTotp(user: UserEntity, code: string | undefined, origin: RequestOrigin): Promise<void> {
    if (code === undefined) {
      await this.audit.record({ anonymous: user.username }, origin, {
        action: 'auth.login',
        outcome: 'failure',
        details: { reason: 'totp-required' },
      });
      throw unauthenticated('this account signs in with a TOTP code too: send it as "totp"', { totpRequired: true });
    }
    if (await this.totp.verify(user, code)) return;
    this.throttle.recordFailure(user.username, origin.address);
    await this.audit.record({ anonymous: user.username }, origin, {
      action: 'auth.login',
      outcome: 'failure',
      details: { reason: 'wrong-totp' },
    });
    throw unauthenticated('wrong or already used TOTP code', { totpRequired: true });
  }

  csrfMatches(expected: string, given: string | undefined): boolean {
    return given !== undefined && sameSecret(expected, given);
  }

  private async openSession(user: UserEntity, origin: RequestOrigin): Promise<SignedIn> {
    const { token, hash } = issueToken(TOKEN_PREFIX.session);
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(this.clock.now().getTime() + this.config.sessionTtlMs);
    await this.sessions.create({
      userId: user.id,
      tokenHash: hash,
      csrfToken,
      address: origin.address,
      userAgent: origin.userAgent?.slice(0, 512) ?? null,
      expiresAt,
    });
    return { user: { id: user.id, username: user.username }, sessionToken: token, csrfToken, expiresAt };
  }
}
