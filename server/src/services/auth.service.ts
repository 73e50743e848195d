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
import { ACCESS_CACHE_TTL_MS, AccessService } from './access.service.js';
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
/** Past this many cached credentials the cache starts over, so it cannot grow without bound. */
const MAX_CACHED_CREDENTIALS = 10_000;

/** A session or API token found good, reused until `expiresAt` (the cache's) or `validUntil` (its own). */
interface CachedCredential {
  actor: Actor;
  csrfToken: string;
  validUntil: number | null;
  expiresAt: number;
}

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
    access: AccessService,
  ) {
    // Disabling a user, revoking a token and every other change to people drop the access cache.
    access.onInvalidate(() => this.forgetCredentials());
  }

  /**
   * Sessions and API tokens found good, by the hash of the secret: on the hot path of every call
   * (the engine proxy's above all), so each is checked in the database at most every 5 s, as a
   * caller's access is. Sign-out, ended sessions and every change to users or tokens made through
   * this replica drop them at once; one made through another replica is seen within the TTL.
   */
  private credentials = new Map<string, CachedCredential>();
  /** Bumped whenever the cache is dropped, so a lookup that raced with it is not kept. */
  private credentialGeneration = 0;

  private forgetCredentials(): void {
    this.credentials = new Map();
    this.credentialGeneration += 1;
  }

  private cachedCredential(key: string, now: Date): CachedCredential | undefined {
    const cached = this.credentials.get(key);
    const at = now.getTime();
    if (!cached || cached.expiresAt <= at || (cached.validUntil !== null && cached.validUntil <= at)) return undefined;
    return cached;
  }

  private keepCredential(key: string, generation: number, credential: Omit<CachedCredential, 'expiresAt'>): void {
    if (generation !== this.credentialGeneration) return;
    if (this.credentials.size >= MAX_CACHED_CREDENTIALS) this.credentials = new Map();
    this.credentials.set(key, { ...credential, expiresAt: this.clock.now().getTime() + ACCESS_CACHE_TTL_MS });
  }

  /** Ends every session of the user but `exceptSessionId` (a password change or reset). */
  async endSessions(userId: string, exceptSessionId?: string): Promise<void> {
    for (const sessionId of await this.sessions.deleteForUser(userId, exceptSessionId)) {
      this.feed.endSession(sessionId);
    }
    this.forgetCredentials();
  }

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
    const hash = hashToken(sessionToken);
    await this.sessions.deleteByHash(hash);
    this.credentials.delete(`session:${hash}`);
    if (actor.sessionId) this.feed.endSession(actor.sessionId);
    await this.audit.record({ actor }, origin, { action: 'auth.logout', outcome: 'success' });
  }

  /** The actor behind a session cookie, or null when it is unknown, expired or its user disabled. */
  async resolveSession(sessionToken: string): Promise<ResolvedSession | null> {
    const now = this.clock.now();
    const hash = hashToken(sessionToken);
    const key = `session:${hash}`;
    const cached = this.cachedCredential(key, now);
    if (cached) return { actor: cached.actor, csrfToken: cached.csrfToken };
    const generation = this.credentialGeneration;
    const session = await this.sessions.findUnexpiredByHash(hash, now);
    if (!session) return null;
    const { user } = session;
    if (user.disabledAt) return null;
    if (now.getTime() - session.lastUsedAt.getTime() > TOUCH_EVERY_MS) await this.sessions.touch(session.id, now);
    const actor: Actor = { kind: 'user', userId: user.id, username: user.username, sessionId: session.id };
    this.keepCredential(key, generation, {
      actor,
      csrfToken: session.csrfToken,
      validUntil: session.expiresAt.getTime(),
    });
    return { actor, csrfToken: session.csrfToken };
  }

  /** The actor behind an API token; throws with the reason when the token cannot be used. */
  async resolveApiToken(token: string): Promise<Actor> {
    const now = this.clock.now();
    const hash = hashToken(token);
    const key = `token:${hash}`;
    const cached = this.cachedCredential(key, now);
    if (cached) return cached.actor;
    const generation = this.credentialGeneration;
    const found = await this.apiTokens.findActiveByHash(hash);
    if (!found) throw unauthenticated('unknown or revoked API token');
    if (found.expiresAt && found.expiresAt <= now) {
      throw unauthenticated(`API token "${found.name}" expired at ${found.expiresAt.toISOString()}`);
    }
    const { user } = found;
    if (user.disabledAt) throw unauthenticated('the owner of this API token is disabled');
    if (!found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await this.apiTokens.touch(found.id, now);
    }
    const actor: Actor = { kind: 'token', userId: user.id, username: user.username, tokenId: found.id };
    this.keepCredential(key, generation, { actor, csrfToken: '', validUntil: found.expiresAt?.getTime() ?? null });
    return actor;
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

  /** Whether the account signs in with a TOTP code too. */
  async totpEnabled(userId: string): Promise<boolean> {
    return Boolean((await this.users.findById(userId))?.totpEnabledAt);
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
