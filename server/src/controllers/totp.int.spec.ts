import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../../test/support/database.js';
import { createUser, PEOPLE_PASSWORD } from '../../../test/support/people.js';
import {
  call,
  type Session,
  signIn,
  signInAs,
  startTestServer,
  type TestServer,
} from '../../../test/support/test-server.js';
import { base32Decode, totpCode, totpStep } from '../services/totp.js';

describe('two-factor sign-in with TOTP', () => {
  let server: TestServer;
  let admin: Session;
  let userId: string;
  let tina: Session;
  let secret: Buffer;

  const login = (body: Record<string, unknown>) =>
    call(server.baseUrl, null, 'POST', '/api/auth/login', { username: 'tina', password: PEOPLE_PASSWORD, ...body });
  /** The code of the step `offset` steps from now, as an authenticator app with this secret shows it. */
  const code = (offset = 0) => totpCode(secret, totpStep(new Date()) + offset);

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    userId = await createUser(server.baseUrl, admin, 'tina');
    tina = await signInAs(server.baseUrl, 'tina', PEOPLE_PASSWORD);
  });
  afterAll(() => server?.close());

  it('hands out a new secret as base32 and as an otpauth URI, and keeps it sealed', async () => {
    const started = await call(server.baseUrl, tina, 'POST', '/api/me/totp');
    expect(started.status).toBe(201);
    expect(started.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(started.body.uri).toBe(
      `otpauth://totp/Skiff:tina?secret=${started.body.secret}&issuer=Skiff&algorithm=SHA1&digits=6&period=30`,
    );
    secret = base32Decode(started.body.secret);

    const [stored] = await query<{ totp_secret: string; totp_enabled_at: Date | null }>(
      server.database.url,
      'SELECT totp_secret, totp_enabled_at FROM users WHERE id = $1',
      [userId],
    );
    expect(stored.totp_secret).toMatch(/^v1:/);
    expect(stored.totp_secret).not.toContain(started.body.secret);
    expect(stored.totp_secret).not.toContain(secret.toString('base64'));
    expect(stored.totp_enabled_at).toBeNull();
    // Not in force yet: the password alone still signs in.
    expect((await login({})).status).toBe(200);
  });

  it('turns on only with a right code', async () => {
    expect((await call(server.baseUrl, tina, 'GET', '/api/auth/me')).body.totpEnabled).toBe(false);
    const wrong = await call(server.baseUrl, tina, 'POST', '/api/me/totp/confirm', { code: code(5) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toBe('wrong or already used TOTP code');
    const malformed = await call(server.baseUrl, tina, 'POST', '/api/me/totp/confirm', { code: '12ab56' });
    expect(malformed.status).toBe(400);
    const right = await call(server.baseUrl, tina, 'POST', '/api/me/totp/confirm', { code: code() });
    expect(right.status).toBe(204);
    const me = await call(server.baseUrl, admin, 'GET', `/api/users/${userId}`);
    expect(me.body.totpEnabled).toBe(true);
    expect((await call(server.baseUrl, tina, 'GET', '/api/auth/me')).body.totpEnabled).toBe(true);
    const [audit] = await query<{ details: unknown }>(
      server.database.url,
      `SELECT details FROM audit_events WHERE action = 'auth.totp-enable' ORDER BY id DESC LIMIT 1`,
    );
    expect(JSON.stringify(audit)).not.toContain(code());
  });

  it('asks for a code when the password is right but none is sent', async () => {
    const answer = await login({});
    expect(answer.status).toBe(401);
    expect(answer.body.kind).toBe('unauthenticated');
    expect(answer.body.message).toBe('this account signs in with a TOTP code too: send it as "totp"');
    const wrongPassword = await login({ password: 'not the password' });
    expect(wrongPassword.body.message).toBe('wrong username or password');
  });

  it('refuses a wrong code as a failed sign-in, and a used code a second time', async () => {
    const wrong = await login({ totp: code(3) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toBe('wrong or already used TOTP code');
    const [failure] = await query<{ outcome: string; details: { reason: string } }>(
      server.database.url,
      `SELECT outcome, details FROM audit_events WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1`,
    );
    expect(failure).toEqual({ outcome: 'failure', details: { reason: 'wrong-totp' } });

    // The confirming code used this step; the next step's code is within the ±1 window and fresh.
    const next = code(1);
    const signedIn = await login({ totp: next });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user.username).toBe('tina');
    expect((await login({ totp: next })).status).toBe(401);
  });

  it('lets an admin turn it off for a user who lost their authenticator', async () => {
    expect((await call(server.baseUrl, tina, 'DELETE', `/api/users/${userId}/totp`)).status).toBe(403);
    expect((await call(server.baseUrl, admin, 'DELETE', `/api/users/${userId}/totp`)).status).toBe(204);
    expect((await login({})).status).toBe(200);
    const [row] = await query<{ actor_name: string; target: string }>(
      server.database.url,
      `SELECT actor_name, target FROM audit_events WHERE action = 'user.totp-clear' ORDER BY id DESC LIMIT 1`,
    );
    expect(row).toEqual({ actor_name: 'admin', target: userId });
  });

  it('lets a user turn it off with a current code, and not with an API token', async () => {
    const started = await call(server.baseUrl, tina, 'POST', '/api/me/totp');
    secret = base32Decode(started.body.secret);
    expect((await call(server.baseUrl, tina, 'POST', '/api/me/totp/confirm', { code: code(-1) })).status).toBe(204);
    const again = await call(server.baseUrl, tina, 'POST', '/api/me/totp');
    expect(again.status).toBe(409);

    const token = await call(server.baseUrl, tina, 'POST', '/api/tokens', { name: 'cli' });
    const byToken = await call(
      server.baseUrl,
      null,
      'DELETE',
      '/api/me/totp',
      { code: code() },
      {
        authorization: `Bearer ${token.body.token}`,
      },
    );
    expect(byToken.status).toBe(403);

    expect((await call(server.baseUrl, tina, 'DELETE', '/api/me/totp', { code: code(3) })).status).toBe(400);
    expect((await call(server.baseUrl, tina, 'DELETE', '/api/me/totp', { code: code() })).status).toBe(204);
    expect((await login({})).status).toBe(200);
  });
});
