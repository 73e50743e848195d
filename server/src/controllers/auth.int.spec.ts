import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../../test/support/database.js';
import { ADMIN_PASSWORD, call, signIn, startTestServer, type TestServer } from '../../../test/support/test-server.js';
import { hashToken } from '../services/secret-token.js';

describe('sign-in, sessions and API tokens', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
  });
  afterAll(() => server?.close());

  it('answers /api/health without authentication', async () => {
    expect(await call(server.baseUrl, null, 'GET', '/api/health')).toEqual({
      status: 200,
      body: { status: 'ok', database: 'ok' },
    });
  });

  it('serves the OpenAPI document at /api/docs-json', async () => {
    const { status, body } = await call(server.baseUrl, null, 'GET', '/api/docs-json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/api/auth/login', '/api/tokens', '/api/hosts', '/api/join-tokens']),
    );
  });

  it('refuses the API without a session or token', async () => {
    const { status, body } = await call(server.baseUrl, null, 'GET', '/api/hosts');
    expect(status).toBe(401);
    expect(body.kind).toBe('unauthenticated');
  });

  it('sets an HTTP-only, SameSite session cookie on sign-in', async () => {
    const response = await fetch(`${server.baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(response.status).toBe(200);
    const [cookie] = response.headers.getSetCookie();
    expect(cookie).toMatch(/^skiff_session=sks_/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const stored = await query(server.database.url, 'SELECT token_hash FROM sessions');
    const token = cookie.split(';')[0].split('=')[1];
    expect(stored.map((row) => row.token_hash)).toContain(hashToken(token));
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it('stores the admin password as an argon2id hash', async () => {
    const [admin] = await query<{ password_hash: string }>(
      server.database.url,
      `SELECT password_hash FROM users WHERE username = 'admin'`,
    );
    expect(admin.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('refuses a wrong password with 401 and records the failure in the audit log', async () => {
    const { status, body } = await call(server.baseUrl, null, 'POST', '/api/auth/login', {
      username: 'admin',
      password: 'nope',
    });
    expect(status).toBe(401);
    expect(body).toEqual({ kind: 'unauthenticated', message: 'wrong username or password' });
    const rows = await query(
      server.database.url,
      `SELECT outcome, actor_name FROM audit_events WHERE action = 'auth.login' ORDER BY id DESC LIMIT 1`,
    );
    expect(rows[0]).toEqual({ outcome: 'failure', actor_name: 'admin' });
  });

  it('refuses malformed bodies with 400 and a message naming the problem', async () => {
    const broken = await call(server.baseUrl, null, 'POST', '/api/auth/login', '{"username":', {});
    expect(broken.status).toBe(400);
    expect(broken.body.kind).toBe('invalid-argument');
    const missing = await call(server.baseUrl, null, 'POST', '/api/auth/login', { username: 'admin' });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/password/);
    const wrongType = await call(server.baseUrl, null, 'POST', '/api/auth/login', { username: 'admin', password: 42 });
    expect(wrongType.status).toBe(400);
  });

  it('needs the CSRF token for a session to change anything', async () => {
    const session = await signIn(server.baseUrl);
    const withoutCsrf = await call(
      server.baseUrl,
      null,
      'POST',
      '/api/tokens',
      { name: 'x' },
      { cookie: session.cookie },
    );
    expect(withoutCsrf.status).toBe(403);
    expect(withoutCsrf.body.message).toMatch(/X-CSRF-Token/);
    expect((await call(server.baseUrl, session, 'POST', '/api/tokens', { name: 'x' })).status).toBe(201);
  });

  it('ends a session on sign-out', async () => {
    const session = await signIn(server.baseUrl);
    expect((await call(server.baseUrl, session, 'POST', '/api/auth/logout')).status).toBe(204);
    expect((await call(server.baseUrl, session, 'GET', '/api/auth/me')).status).toBe(401);
  });

  it('creates an API token shown once, stored hashed, usable as a bearer token', async () => {
    const session = await signIn(server.baseUrl);
    const created = await call(server.baseUrl, session, 'POST', '/api/tokens', { name: 'ci deploys' });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect(token).toMatch(/^skf_/);
    const stored = await query(server.database.url, 'SELECT token_hash, prefix FROM api_tokens WHERE id = $1', [
      created.body.id,
    ]);
    expect(stored[0].token_hash).toBe(hashToken(token));
    expect(JSON.stringify(stored)).not.toContain(token);

    const me = await call(server.baseUrl, null, 'GET', '/api/auth/me', undefined, { authorization: `Bearer ${token}` });
    expect(me).toMatchObject({ status: 200, body: { user: { username: 'admin' }, via: 'token' } });
    const listed = await call(server.baseUrl, session, 'GET', '/api/tokens');
    expect(listed.body.find((item: { id: string }) => item.id === created.body.id)).not.toHaveProperty('token');

    expect((await call(server.baseUrl, session, 'DELETE', `/api/tokens/${created.body.id}`)).status).toBe(204);
    const afterRevoke = await call(server.baseUrl, null, 'GET', '/api/hosts', undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(afterRevoke.status).toBe(401);
  });

  it('refuses an expired API token and an expiry in the past', async () => {
    const session = await signIn(server.baseUrl);
    const past = await call(server.baseUrl, session, 'POST', '/api/tokens', {
      name: 'old',
      expiresAt: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(400);
    const soon = await call(server.baseUrl, session, 'POST', '/api/tokens', {
      name: 'short',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(soon.status).toBe(201);
    await query(server.database.url, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      soon.body.id,
    ]);
    const used = await call(server.baseUrl, null, 'GET', '/api/hosts', undefined, {
      authorization: `Bearer ${soon.body.token}`,
    });
    expect(used.status).toBe(401);
    expect(used.body.message).toMatch(/expired/);
  });

  it('rate-limits failed sign-ins per account', async () => {
    const attempt = (password: string) =>
      call(server.baseUrl, null, 'POST', '/api/auth/login', { username: 'victim', password });
    for (let i = 0; i < 5; i++) expect((await attempt('guess')).status).toBe(401);
    const limited = await attempt('guess');
    expect(limited.status).toBe(429);
    expect(limited.body.message).toMatch(/too many failed sign-in attempts for account "victim"/);
    // Other accounts are not locked out by it.
    expect(
      (await call(server.baseUrl, null, 'POST', '/api/auth/login', { username: 'admin', password: ADMIN_PASSWORD }))
        .status,
    ).toBe(200);
  });

  it('rate-limits failed sign-ins per address across accounts', async () => {
    let last = 0;
    for (let i = 0; i < 25 && last !== 429; i++) {
      last = (await call(server.baseUrl, null, 'POST', '/api/auth/login', { username: `user${i}`, password: 'guess' }))
        .status;
    }
    expect(last).toBe(429);
    const limited = await call(server.baseUrl, null, 'POST', '/api/auth/login', {
      username: 'admin',
      password: ADMIN_PASSWORD,
    });
    expect(limited.status).toBe(429);
    expect(limited.body.message).toMatch(/from 127\.0\.0\.1|from ::ffff:127\.0\.0\.1/);
  });
});
