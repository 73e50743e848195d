import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../../test/support/database.js';
import { AgentKey, type Link, openLink, respond } from '../../../test/support/fake-agent-key.js';
import { call, type Session, signIn, startTestServer, type TestServer } from '../../../test/support/test-server.js';

describe('agent enrolment and the agent link', () => {
  let server: TestServer;
  let session: Session;
  const links: Link[] = [];

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    session = await signIn(server.baseUrl);
  });
  afterEach(() => {
    for (const link of links.splice(0)) link.socket.disconnect();
  });
  afterAll(() => server?.close());

  const joinToken = async (ttlSeconds?: number): Promise<string> => {
    const created = await call(server.baseUrl, session, 'POST', '/api/join-tokens', ttlSeconds ? { ttlSeconds } : {});
    expect(created.status).toBe(201);
    return created.body.token as string;
  };
  const enrol = (body: unknown) => call(server.baseUrl, null, 'POST', '/api/agents/enrol', body);
  const hostCount = async () => Number((await query(server.database.url, 'SELECT count(*) AS n FROM hosts'))[0].n);
  const link = async () => {
    const opened = await openLink(server.baseUrl);
    links.push(opened);
    return opened;
  };
  const enrolled = async (key = new AgentKey()) => {
    const result = await enrol(key.enrolBody(await joinToken()));
    expect(result.status).toBe(201);
    return { key, hostId: result.body.hostId as string };
  };
  const hostStatus = async (id: string) => (await call(server.baseUrl, session, 'GET', `/api/hosts/${id}`)).body.status;

  it('creates one-time join tokens that expire after an hour by default', async () => {
    const created = await call(server.baseUrl, session, 'POST', '/api/join-tokens', {});
    expect(created.body.token).toMatch(/^skj_/);
    const ttl = new Date(created.body.expiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(3590_000);
    expect(ttl).toBeLessThanOrEqual(3600_000);
    expect(created.body.command).toContain(`--join-token ${created.body.token}`);
  });

  it('enrols an agent once with a join token, storing only its public key', async () => {
    const key = new AgentKey();
    const token = await joinToken();
    const result = await enrol(key.enrolBody(token));
    expect(result.status).toBe(201);
    const [row] = await query(server.database.url, 'SELECT * FROM hosts WHERE id = $1', [result.body.hostId]);
    expect(row.public_key).toBe(key.publicKey);
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('refuses a join token already used, and writes nothing', async () => {
    const token = await joinToken();
    expect((await enrol(new AgentKey().enrolBody(token))).status).toBe(201);
    const before = await hostCount();
    const again = await enrol(new AgentKey().enrolBody(token));
    expect(again.status).toBe(401);
    expect(again.body.message).toMatch(/already used/);
    expect(await hostCount()).toBe(before);
  });

  it('refuses an unknown join token', async () => {
    const before = await hostCount();
    const result = await enrol(new AgentKey().enrolBody('skj_not-a-real-token'));
    expect(result.status).toBe(401);
    expect(result.body.message).toMatch(/unknown join token/);
    expect(await hostCount()).toBe(before);
  });

  it('refuses an expired join token and leaves it unused', async () => {
    const token = await joinToken();
    await query(
      server.database.url,
      `UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`,
    );
    const before = await hostCount();
    const result = await enrol(new AgentKey().enrolBody(token));
    expect(result.status).toBe(401);
    expect(result.body.message).toMatch(/expired/);
    expect(await hostCount()).toBe(before);
  });

  it('refuses an enrolment whose signature was not made with the presented key', async () => {
    const token = await joinToken();
    const forged = { ...new AgentKey().enrolBody(token), publicKey: new AgentKey().publicKey };
    const result = await enrol(forged);
    expect(result.status).toBe(401);
    expect(result.body.message).toMatch(/signature/);
    // The token was not spent by the refused attempt.
    const key = new AgentKey();
    expect((await enrol(key.enrolBody(token))).status).toBe(201);
  });

  it('refuses a malformed enrolment body with 400', async () => {
    const token = await joinToken();
    const notAKey = await enrol({
      ...new AgentKey().enrolBody(token),
      publicKey: Buffer.from('nope').toString('base64'),
    });
    expect(notAKey.status).toBe(400);
    expect(notAKey.body.message).toMatch(/Ed25519/);
    const badName = await enrol({ ...new AgentKey().enrolBody(token), name: '../etc' });
    expect(badName.status).toBe(400);
    expect(badName.body.message).toMatch(/name must be/);
    expect((await enrol(new AgentKey().enrolBody(token))).status).toBe(201);
  });

  it('brings a host online when its agent signs the challenge, and offline when the link closes', async () => {
    const { key, hostId } = await enrolled();
    expect(await hostStatus(hostId)).toBe('offline');
    const opened = await link();
    const result = await respond(opened, hostId, key.answer(opened.nonce, hostId));
    expect(result).toEqual({ ok: true, hostId, name: 'web-01' });
    const host = (await call(server.baseUrl, session, 'GET', `/api/hosts/${hostId}`)).body;
    expect(host).toMatchObject({ status: 'online', inventory: { hostname: 'web-01', cgroupVersion: 'v1' } });
    expect(host.lastSeenAt).not.toBeNull();

    opened.socket.disconnect();
    await expect.poll(() => hostStatus(hostId), { timeout: 5_000 }).toBe('offline');
  });

  it('refuses a forged challenge signature and closes the link', async () => {
    const { hostId } = await enrolled();
    const opened = await link();
    const result = await respond(opened, hostId, new AgentKey().answer(opened.nonce, hostId));
    expect(result).toEqual({
      ok: false,
      error: { kind: 'unauthenticated', message: expect.stringMatching(/signature/) },
    });
    await expect.poll(() => opened.socket.connected).toBe(false);
    expect(await hostStatus(hostId)).toBe('offline');
  });

  it('refuses a signature replayed on a new connection', async () => {
    const { key, hostId } = await enrolled();
    const first = await link();
    const signature = key.answer(first.nonce, hostId);
    expect((await respond(first, hostId, signature)).ok).toBe(true);
    first.socket.disconnect();
    const second = await link();
    expect(second.nonce).not.toBe(first.nonce);
    const replayed = await respond(second, hostId, signature);
    expect(replayed.ok).toBe(false);
  });

  it('accepts an answer only once per connection', async () => {
    const { key, hostId } = await enrolled();
    const opened = await link();
    expect((await respond(opened, hostId, key.answer(opened.nonce, hostId))).ok).toBe(true);
    const again = await respond(opened, hostId, key.answer(opened.nonce, hostId));
    expect(again).toMatchObject({ ok: false, error: { message: expect.stringMatching(/already answered/) } });
  });

  it('refuses an unknown host id', async () => {
    const key = new AgentKey();
    const opened = await link();
    const hostId = '00000000-0000-4000-8000-000000000000';
    const result = await respond(opened, hostId, key.answer(opened.nonce, hostId));
    expect(result).toMatchObject({ ok: false, error: { kind: 'unauthenticated' } });
  });

  it('cuts the link of a revoked host at once and refuses it when it reconnects', async () => {
    const { key, hostId } = await enrolled();
    const opened = await link();
    expect((await respond(opened, hostId, key.answer(opened.nonce, hostId))).ok).toBe(true);
    const revokedNotice = new Promise((resolve) => opened.socket.once('auth.revoked', resolve));

    expect((await call(server.baseUrl, session, 'DELETE', `/api/hosts/${hostId}`)).status).toBe(204);
    expect(await revokedNotice).toMatchObject({ kind: 'forbidden' });
    await expect.poll(() => opened.socket.connected, { timeout: 2_000 }).toBe(false);
    const hosts = (await call(server.baseUrl, session, 'GET', '/api/hosts')).body as { id: string }[];
    expect(hosts.map((host) => host.id)).not.toContain(hostId);

    const again = await link();
    const result = await respond(again, hostId, key.answer(again.nonce, hostId));
    expect(result).toMatchObject({
      ok: false,
      error: { kind: 'forbidden', message: expect.stringMatching(/revoked/) },
    });
    expect((await call(server.baseUrl, session, 'DELETE', `/api/hosts/${hostId}`)).status).toBe(404);
  });

  it('disconnects an agent that does not answer its challenge', async () => {
    const opened = await link();
    // AUTH_TIMEOUT_MS is 10 s; the link must be closed by the server, not by the test.
    await expect.poll(() => opened.socket.connected, { timeout: 13_000, interval: 250 }).toBe(false);
  }, 20_000);

  it('records enrolments, connections refused and revocations in the audit log', async () => {
    const rows = await query<{ action: string; outcome: string }>(
      server.database.url,
      'SELECT DISTINCT action, outcome FROM audit_events',
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { action: 'host.enrol', outcome: 'success' },
        { action: 'host.enrol', outcome: 'denied' },
        { action: 'agent.connect', outcome: 'denied' },
        { action: 'host.revoke', outcome: 'success' },
        { action: 'join-token.create', outcome: 'success' },
      ]),
    );
  });
});
