import { describe, expect, it, vi } from 'vitest';
import type { ServerConfig } from '../config/server-config.js';
import type { ApiTokenRepository } from '../repositories/api-token.repository.js';
import type { ConsoleFeedRepository } from '../repositories/console-feed.repository.js';
import type { SessionRepository } from '../repositories/session.repository.js';
import type { UserRepository } from '../repositories/user.repository.js';
import { ACCESS_CACHE_TTL_MS, AccessService } from './access.service.js';
import type { AuditService } from './audit.service.js';
import { AuthService } from './auth.service.js';
import type { LoginThrottleService } from './login-throttle.service.js';
import { hashToken } from './secret-token.js';
import type { TotpService } from './totp.service.js';

const SESSION = 'sks_session-secret';
const TOKEN = 'skf_token-secret';

/** AuthService over in-memory rows: one user, one session and one API token, all good. */
function setup() {
  let now = 1_000_000;
  const user = { id: 'u1', username: 'ann', disabledAt: null as Date | null };
  const sessions = new Map([
    [
      hashToken(SESSION),
      {
        id: 's1',
        userId: 'u1',
        csrfToken: 'csrf',
        lastUsedAt: new Date(now),
        expiresAt: new Date(now + 60 * 60_000),
        user,
      },
    ],
  ]);
  const tokens = new Map([
    [
      hashToken(TOKEN),
      { id: 't1', name: 'cli', userId: 'u1', lastUsedAt: new Date(now), expiresAt: null as Date | null, user },
    ],
  ]);
  // A lookup can be held back to race it with a change (see `hold`).
  let gate: Promise<void> = Promise.resolve();
  // Each lookup reads its row first, as a query would, then waits for the gate.
  const findSession = vi.fn(async (hash: string, at: Date) => {
    const session = sessions.get(hash);
    const row = session && session.expiresAt > at ? { ...session, user: { ...session.user } } : null;
    await gate;
    return row;
  });
  const findToken = vi.fn(async (hash: string) => {
    const token = tokens.get(hash);
    const row = token ? { ...token, user: { ...token.user } } : null;
    await gate;
    return row;
  });
  const clock = { now: () => new Date(now) };
  const access = new AccessService(
    {} as never,
    {} as unknown as UserRepository,
    {} as unknown as ApiTokenRepository,
    clock,
  );
  const auth = new AuthService(
    { sessionTtlMs: 60 * 60_000 } as ServerConfig,
    {} as unknown as UserRepository,
    {
      findUnexpiredByHash: findSession,
      touch: () => Promise.resolve(),
      deleteByHash: (hash: string) => Promise.resolve(void sessions.delete(hash)),
      deleteForUser: () => {
        const ended = [...sessions.values()].map((session) => session.id);
        sessions.clear();
        return Promise.resolve(ended);
      },
    } as unknown as SessionRepository,
    { findActiveByHash: findToken, touch: () => Promise.resolve() } as unknown as ApiTokenRepository,
    {} as unknown as LoginThrottleService,
    { record: () => Promise.resolve() } as unknown as AuditService,
    clock,
    { endSession: () => undefined } as unknown as ConsoleFeedRepository,
    {} as unknown as TotpService,
    access,
  );
  return {
    auth,
    access,
    user,
    sessions,
    tokens,
    findSession,
    findToken,
    advance: (ms: number) => (now += ms),
    hold: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        release();
        gate = Promise.resolve();
      };
    },
  };
}

describe('AuthService credentials', () => {
  it('checks a token or session in the database once, then answers from memory until the TTL passes', async () => {
    const { auth, findSession, findToken, advance, tokens } = setup();
    expect(await auth.resolveApiToken(TOKEN)).toMatchObject({ kind: 'token', userId: 'u1', tokenId: 't1' });
    expect((await auth.resolveSession(SESSION))?.actor).toMatchObject({ kind: 'user', sessionId: 's1' });
    await auth.resolveApiToken(TOKEN);
    await auth.resolveSession(SESSION);
    expect(findToken).toHaveBeenCalledTimes(1);
    expect(findSession).toHaveBeenCalledTimes(1);

    // Revoked on another replica: seen here once the TTL has passed.
    tokens.clear();
    advance(ACCESS_CACHE_TTL_MS - 1);
    expect(await auth.resolveApiToken(TOKEN)).toMatchObject({ tokenId: 't1' });
    advance(1);
    await expect(auth.resolveApiToken(TOKEN)).rejects.toThrow('unknown or revoked API token');
  });

  it('forgets every credential when people change on this replica (a user disabled, a token revoked)', async () => {
    const { auth, access, user, findToken } = setup();
    await auth.resolveApiToken(TOKEN);
    user.disabledAt = new Date();
    access.invalidate();
    await expect(auth.resolveApiToken(TOKEN)).rejects.toThrow('the owner of this API token is disabled');
    expect(findToken).toHaveBeenCalledTimes(2);
  });

  it('ends a session at once on sign-out and when the user’s sessions are ended', async () => {
    const { auth } = setup();
    const actor = (await auth.resolveSession(SESSION))!.actor;
    await auth.logout(SESSION, actor, { address: '127.0.0.1', userAgent: null });
    expect(await auth.resolveSession(SESSION)).toBeNull();

    const fresh = setup();
    await fresh.auth.resolveSession(SESSION);
    await fresh.auth.endSessions('u1');
    expect(await fresh.auth.resolveSession(SESSION)).toBeNull();
  });

  it('does not answer from memory for a session or token past its own expiry', async () => {
    const { auth, advance, findSession, findToken, tokens } = setup();
    tokens.get(hashToken(TOKEN))!.expiresAt = new Date(1_000_000 + 1_000);
    await auth.resolveApiToken(TOKEN);
    await auth.resolveSession(SESSION);
    advance(1_000);
    await expect(auth.resolveApiToken(TOKEN)).rejects.toThrow(/expired/);
    expect(findToken).toHaveBeenCalledTimes(2);
    advance(60 * 60_000);
    expect(await auth.resolveSession(SESSION)).toBeNull();
    expect(findSession).toHaveBeenCalledTimes(2);
  });

  it('does not keep a lookup that raced with a change', async () => {
    const { auth, access, hold, user, findToken } = setup();
    const release = hold();
    const racing = auth.resolveApiToken(TOKEN);
    user.disabledAt = new Date();
    access.invalidate();
    release();
    // The lookup read the row before the change and may answer with it, but it is not kept.
    await racing;
    await expect(auth.resolveApiToken(TOKEN)).rejects.toThrow('the owner of this API token is disabled');
    expect(findToken).toHaveBeenCalledTimes(2);
  });
});
