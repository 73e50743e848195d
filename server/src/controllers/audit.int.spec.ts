import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { auditRowIds, tamper, withClockMoved } from '../../../test/support/audit-log.js';
import { query } from '../../../test/support/database.js';
import { AgentKey } from '../../../test/support/fake-agent-key.js';
import { repoRoot } from '../../../test/support/processes.js';
import { call, type Session, signIn, startTestServer, type TestServer } from '../../../test/support/test-server.js';
import type { Actor } from '../services/actor.js';
import { AuditService } from '../services/audit.service.js';

const run = promisify(execFile);
const PASSWORD = 'a long enough password for tests';
const CLIENT = 'skiff-audit-test/1.0';

/** Signs in as any user, with a User-Agent the audit log should show. */
async function signInAs(baseUrl: string, username: string): Promise<Session> {
  const response = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': CLIENT },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (response.status !== 200) throw new Error(`sign-in of ${username}: ${response.status} ${await response.text()}`);
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** A user holding `role` on every host (no role: nothing at all), signed in. */
async function createUser(
  baseUrl: string,
  admin: Session,
  username: string,
  role?: 'viewer' | 'operator',
): Promise<{ id: string; session: Session }> {
  const created = await call(baseUrl, admin, 'POST', '/api/users', { username, password: PASSWORD });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (role) {
    const roles = await call(baseUrl, admin, 'GET', '/api/roles');
    const roleId = (roles.body as Array<{ id: string; name: string }>).find((found) => found.name === role)!.id;
    const granted = await call(baseUrl, admin, 'POST', '/api/grants', { roleId, userId: created.body.id });
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
  }
  return { id: created.body.id as string, session: await signInAs(baseUrl, username) };
}

describe('the audit log', () => {
  let server: TestServer;
  let admin: Session;
  let audit: AuditService;

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    audit = server.app.get(AuditService);
  });
  afterAll(() => server?.close());

  it('records sign-ins that succeed and that fail, with the address, the client and the user', async () => {
    await createUser(server.baseUrl, admin, 'sam');
    const failed = await fetch(`${server.baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': CLIENT },
      body: JSON.stringify({ username: 'sam', password: 'not the password at all' }),
    });
    expect(failed.status).toBe(401);

    const { status, body } = await call(server.baseUrl, admin, 'GET', '/api/audit?action=auth.login&q=sam');
    expect(status).toBe(200);
    const [failure, success] = body.items;
    expect(failure).toMatchObject({
      actorType: 'anonymous',
      actorName: 'sam',
      userId: null,
      outcome: 'failure',
      client: CLIENT,
      address: expect.stringMatching(/127\.0\.0\.1/),
      details: { reason: 'wrong-credentials' },
    });
    expect(success).toMatchObject({
      actorType: 'user',
      actorName: 'sam',
      userId: success.actorId,
      outcome: 'success',
      client: CLIENT,
      address: expect.stringMatching(/127\.0\.0\.1/),
    });
    expect(JSON.stringify(body)).not.toContain('not the password at all');
  });

  it('records a refused request once, with the caller, the route, status 403 and the reason', async () => {
    const nobody = await createUser(server.baseUrl, admin, 'nora');
    const refused = await call(server.baseUrl, nobody.session, 'GET', '/api/audit?q=x', undefined, {
      'user-agent': CLIENT,
    });
    expect(refused.status).toBe(403);

    const rows = await query(
      server.database.url,
      `SELECT actor_type, actor_name, user_id, action, target, outcome, status, error, client, address
       FROM audit_events WHERE actor_name = 'nora' AND outcome = 'denied'`,
    );
    expect(rows).toEqual([
      {
        actor_type: 'user',
        actor_name: 'nora',
        user_id: nobody.id,
        action: 'http.GET /api/audit',
        target: '/api/audit',
        outcome: 'denied',
        status: 403,
        error: refused.body.message,
        client: CLIENT,
        address: expect.stringMatching(/127\.0\.0\.1/),
      },
    ]);
    expect(refused.body.message).toMatch(/audit\.view/);
  });

  it('records a refusal without a known caller (a session without its CSRF token)', async () => {
    const response = await fetch(`${server.baseUrl}/api/join-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin.cookie },
      body: '{}',
    });
    expect(response.status).toBe(403);
    const [row] = await query(
      server.database.url,
      `SELECT actor_type, action, status FROM audit_events WHERE action = 'http.POST /api/join-tokens'`,
    );
    expect(row).toEqual({ actor_type: 'anonymous', action: 'http.POST /api/join-tokens', status: 403 });
  });

  it('adds no second row for a refusal the service recorded itself (a disabled account signing in)', async () => {
    const dora = await createUser(server.baseUrl, admin, 'dora');
    expect((await call(server.baseUrl, admin, 'PATCH', `/api/users/${dora.id}`, { disabled: true })).status).toBe(200);
    const before = await auditRowIds(server.database.url);
    const refused = await call(server.baseUrl, null, 'POST', '/api/auth/login', {
      username: 'dora',
      password: PASSWORD,
    });
    expect(refused.status).toBe(403);
    const added = await query(
      server.database.url,
      `SELECT action, outcome FROM audit_events WHERE id > $1 ORDER BY id`,
      [before[before.length - 1]],
    );
    expect(added).toEqual([{ action: 'auth.login', outcome: 'failure' }]);
  });

  it('leaves refused engine proxy calls to the proxy, and keeps secrets of request bodies out of every row', async () => {
    const token = await call(server.baseUrl, admin, 'POST', '/api/join-tokens', {});
    const enrolled = await call(
      server.baseUrl,
      null,
      'POST',
      '/api/agents/enrol',
      new AgentKey().enrolBody(token.body.token, 'audit-01'),
    );
    expect(enrolled.status).toBe(201);
    const hostId = enrolled.body.hostId as string;
    const create = {
      Image: 'busybox',
      Env: ['DB_PASSWORD=hunter2', 'LANG=C.UTF-8'],
      HostConfig: { Binds: ['/srv:/srv'] },
    };
    // The admin's create reaches the link (the host is not connected); a viewer's is refused.
    const path = `/api/hosts/${hostId}/engine/v1.41/containers/create?name=db`;
    expect((await call(server.baseUrl, admin, 'POST', path, create)).status).toBe(503);
    const viewer = await createUser(server.baseUrl, admin, 'vic', 'viewer');
    expect((await call(server.baseUrl, viewer.session, 'POST', path, create)).status).toBe(403);
    // A refused request outside the proxy summarises its body too.
    const nobody = await createUser(server.baseUrl, admin, 'ned');
    const refused = await call(server.baseUrl, nobody.session, 'POST', '/api/users', {
      username: 'mallory',
      password: 'hunter2',
      ...create,
    });
    expect(refused.status).toBe(403);

    const rows = await query(
      server.database.url,
      `SELECT actor_name, action, outcome, status, details FROM audit_events
       WHERE action IN ('container.create', 'http.POST /api/users') OR action LIKE 'http.% /api/hosts/%' ORDER BY id`,
    );
    expect(rows).toEqual([
      {
        actor_name: 'admin',
        action: 'container.create',
        outcome: 'failure',
        status: 503,
        details: expect.objectContaining({ route: 'POST /containers/create', query: { name: 'db' } }),
      },
      { actor_name: 'vic', action: 'container.create', outcome: 'denied', status: 403, details: expect.anything() },
      {
        actor_name: 'ned',
        action: 'http.POST /api/users',
        outcome: 'denied',
        status: 403,
        details: {
          body: {
            username: 'mallory',
            password: '[redacted]',
            ...create,
            Env: ['DB_PASSWORD=[redacted]', 'LANG=C.UTF-8'],
          },
        },
      },
    ]);
    const [everything] = await query<{ text: string }>(
      server.database.url,
      `SELECT string_agg(audit_events::text, E'\\n') AS text FROM audit_events`,
    );
    expect(everything.text).toContain('DB_PASSWORD=[redacted]');
    expect(everything.text).not.toContain('hunter2');
  });

  describe('search', () => {
    const hostA = '0a0a0a0a-0000-4000-8000-000000000001';
    const hostB = '0b0b0b0b-0000-4000-8000-000000000002';
    const ops: Actor = {
      kind: 'token',
      userId: '1d1d1d1d-0000-4000-8000-000000000003',
      username: 'ops',
      tokenId: '7e7e7e7e-0000-4000-8000-000000000004',
    };
    let middle: Date;

    beforeAll(async () => {
      const origin = { address: '10.1.2.3', userAgent: 'docker/27.3.1' };
      await audit.record({ actor: ops }, origin, {
        action: 'container.create',
        outcome: 'success',
        hostId: hostA,
        target: 'web-1',
        status: 201,
        durationMs: 12,
      });
      await audit.record({ actor: ops }, origin, {
        action: 'container.start',
        outcome: 'failure',
        hostId: hostA,
        target: 'web-1',
        status: 500,
        error: 'no such image',
      });
      // Rows carry microseconds and a Date only milliseconds: keep a whole millisecond or more either side.
      await new Promise((resolve) => setTimeout(resolve, 5));
      middle = new Date();
      await new Promise((resolve) => setTimeout(resolve, 5));
      await audit.record({ actor: ops }, origin, {
        action: 'image.pull',
        outcome: 'success',
        hostId: hostB,
        target: 'busybox:latest',
      });
      await audit.record({ agent: { hostId: hostB, name: 'edge-7' } }, null, {
        action: 'agent.connect',
        outcome: 'denied',
        hostId: hostB,
      });
    });

    const search = async (filters: string) => {
      const { status, body } = await call(server.baseUrl, admin, 'GET', `/api/audit?${filters}`);
      expect(status, JSON.stringify(body)).toBe(200);
      return (body.items as Array<{ action: string; target: string | null }>).map((item) =>
        `${item.action} ${item.target ?? ''}`.trim(),
      );
    };

    it('filters by actor name, by token id and by the user behind the token', async () => {
      const expected = ['image.pull busybox:latest', 'container.start web-1', 'container.create web-1'];
      expect(await search('actor=ops')).toEqual(expected);
      expect(await search(`actor=${ops.tokenId}`)).toEqual(expected);
      expect(await search(`actor=${ops.userId}`)).toEqual(expected);
      expect(await search(`actor=${hostB}`)).toEqual(['agent.connect']);
    });

    it('filters by exact action, action prefix, outcome, host and target', async () => {
      expect(await search('action=container.start')).toEqual(['container.start web-1']);
      expect(await search('action=container.*&actor=ops')).toEqual(['container.start web-1', 'container.create web-1']);
      expect(await search('action=container.*&actor=ops&outcome=failure')).toEqual(['container.start web-1']);
      expect(await search(`hostId=${hostB}`)).toEqual(['agent.connect', 'image.pull busybox:latest']);
      expect(await search('target=busybox:latest')).toEqual(['image.pull busybox:latest']);
      // `_` and `%` are not wildcards in a prefix.
      expect(await search('action=container_*')).toEqual([]);
    });

    it('filters by time and by text in the action, target or actor', async () => {
      expect(await search(`actor=ops&to=${middle.toISOString()}`)).toEqual([
        'container.start web-1',
        'container.create web-1',
      ]);
      expect(await search(`actor=ops&from=${middle.toISOString()}`)).toEqual(['image.pull busybox:latest']);
      expect(await search('q=BUSYBOX')).toEqual(['image.pull busybox:latest']);
      expect(await search('q=edge-')).toEqual(['agent.connect']);
    });

    it('shows every column of a row', async () => {
      const { body } = await call(server.baseUrl, admin, 'GET', '/api/audit?action=container.start');
      expect(body.items[0]).toEqual({
        id: expect.stringMatching(/^\d+$/),
        at: expect.any(String),
        actorType: 'token',
        actorId: ops.tokenId,
        actorName: 'ops',
        userId: ops.userId,
        action: 'container.start',
        target: 'web-1',
        hostId: hostA,
        outcome: 'failure',
        status: 500,
        error: 'no such image',
        durationMs: null,
        address: '10.1.2.3',
        client: 'docker/27.3.1',
        details: {},
        prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(body.nextCursor).toBeNull();
    });

    it('refuses bad filters, a cursor it did not give out and a limit over 500', async () => {
      for (const filters of [
        'limit=501',
        'limit=0',
        'outcome=maybe',
        'hostId=web',
        'from=yesterday',
        'cursor=bm9wZQ',
        'sort=id',
      ]) {
        const { status, body } = await call(server.baseUrl, admin, 'GET', `/api/audit?${filters}`);
        expect(status, filters).toBe(400);
        expect(body.kind).toBe('invalid-argument');
      }
    });
  });

  it('pages newest first with a cursor, with no row twice and none left out, while rows are appended', async () => {
    for (let i = 0; i < 23; i++)
      await audit.record({ system: true }, null, { action: 'page.test', outcome: 'success', target: String(i) });
    const expected = (
      await query<{ id: string }>(
        server.database.url,
        `SELECT id FROM audit_events WHERE action = 'page.test' ORDER BY id DESC`,
      )
    ).map((row) => row.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body } = await call(
        server.baseUrl,
        admin,
        'GET',
        `/api/audit?action=page.test&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(status).toBe(200);
      seen.push(...(body.items as Array<{ id: string }>).map((item) => item.id));
      cursor = body.nextCursor as string | null;
      pages += 1;
      // Newer rows do not shift the pages still to come.
      await audit.record({ system: true }, null, { action: 'page.test', outcome: 'success', target: 'late' });
    } while (cursor !== null);
    expect(pages).toBe(5);
    expect(seen).toEqual(expected);
  });

  it('exports the matching rows as NDJSON, oldest first, streamed, and audits the export', async () => {
    const response = await fetch(`${server.baseUrl}/api/audit/export?format=ndjson&action=page.*`, {
      headers: { cookie: admin.cookie },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="skiff-audit-.+\.ndjson"$/);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const text = await response.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; action: string });
    const expected = (
      await query<{ id: string }>(
        server.database.url,
        `SELECT id FROM audit_events WHERE action LIKE 'page.%' ORDER BY id`,
      )
    ).map((row) => row.id);
    expect(lines.map((line) => line.id)).toEqual(expected);
    expect(new Set(lines.map((line) => line.action))).toEqual(new Set(['page.test']));

    const [exported] = (await call(server.baseUrl, admin, 'GET', '/api/audit?action=audit.export')).body.items;
    expect(exported).toMatchObject({
      actorName: 'admin',
      outcome: 'success',
      details: { format: 'ndjson', filter: { action: 'page.*' } },
    });
  });

  it('exports CSV as RFC 4180 with formula cells neutralised', async () => {
    await audit.record({ anonymous: '=HYPERLINK("http://evil","x")' }, null, {
      action: 'csv.test',
      outcome: 'failure',
      error: 'first line, with a comma\nsecond "line"',
    });
    const response = await fetch(`${server.baseUrl}/api/audit/export?format=csv&action=csv.test`, {
      headers: { cookie: admin.cookie },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toMatch(/filename="skiff-audit-.+\.csv"$/);
    const text = await response.text();
    const [header, record, end] = text.split('\r\n');
    expect(header.split(',')).toEqual([
      'id',
      'at',
      'actorType',
      'actorId',
      'actorName',
      'userId',
      'action',
      'target',
      'hostId',
      'outcome',
      'status',
      'error',
      'durationMs',
      'address',
      'client',
      'details',
      'prevHash',
      'hash',
    ]);
    expect(record).toContain(
      `,anonymous,,"'=HYPERLINK(""http://evil"",""x"")",,csv.test,,,failure,,"first line, with a comma\nsecond ""line""",`,
    );
    expect(end).toBe('');
  });

  it('lets an operator search but not export, and only user managers who export remove rows', async () => {
    const operator = await createUser(server.baseUrl, admin, 'otto', 'operator');
    expect((await call(server.baseUrl, operator.session, 'GET', '/api/audit')).status).toBe(200);
    expect((await call(server.baseUrl, operator.session, 'GET', '/api/audit/verify')).status).toBe(200);
    expect((await call(server.baseUrl, operator.session, 'GET', '/api/audit/export')).status).toBe(403);
    const retention = await call(server.baseUrl, operator.session, 'POST', '/api/audit/retention', {
      olderThanDays: 1,
    });
    expect(retention.status).toBe(403);
    expect((await call(server.baseUrl, admin, 'POST', '/api/audit/retention', { olderThanDays: 0 })).status).toBe(400);
  });

  it('verifies the chain it wrote', async () => {
    const { status, body } = await call(server.baseUrl, admin, 'GET', '/api/audit/verify');
    expect(status).toBe(200);
    const ids = await auditRowIds(server.database.url);
    expect(body).toEqual({ ok: true, checked: ids.length, firstRowId: ids[0], lastRowId: ids[ids.length - 1] });
  });
});

describe('the audit chain', () => {
  let server: TestServer;
  let admin: Session;

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    const audit = server.app.get(AuditService);
    for (let i = 0; i < 10; i++) {
      await audit.record({ system: true }, null, { action: 'chain.test', outcome: 'success', target: `step-${i}` });
    }
  });
  afterAll(() => server?.close());

  const verify = async () => {
    const { status, body } = await call(server.baseUrl, admin, 'GET', '/api/audit/verify');
    expect(status).toBe(200);
    return body as { ok: boolean; checked: number; brokenAt?: { id: string; reason: string } };
  };

  /** `skiff-server audit verify`, the built server, against this database. */
  const cli = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    const script = join(repoRoot, 'server/bin/skiff-server.js');
    try {
      const { stdout, stderr } = await run(process.execPath, [script, 'audit', 'verify'], {
        env: { ...process.env, DATABASE_URL: server.database.url },
        timeout: 60_000,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  };

  it('names a row changed directly in PostgreSQL, in the API and on the command line', async () => {
    const ids = await auditRowIds(server.database.url);
    const victim = ids[5];
    const [original] = await query<{ target: string }>(
      server.database.url,
      'SELECT target FROM audit_events WHERE id = $1',
      [victim],
    );
    await tamper(server.database.url, `UPDATE audit_events SET target = 'nothing to see' WHERE id = $1`, [victim]);
    try {
      expect(await verify()).toMatchObject({
        ok: false,
        checked: 6,
        brokenAt: { id: victim, reason: expect.stringMatching(/does not match its content/) },
      });
      const { code, stdout, stderr } = await cli();
      expect(code, stderr).toBe(1);
      expect(stdout, stderr).toContain(`broken at row ${victim}`);
      expect(stdout).toContain('nothing to see');
    } finally {
      await tamper(server.database.url, 'UPDATE audit_events SET target = $2 WHERE id = $1', [victim, original.target]);
    }
    expect((await verify()).ok).toBe(true);
    const { code, stdout, stderr } = await cli();
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^the audit log verifies: \d+ rows checked/);
  });

  it('names a row whose status, client or details were changed', async () => {
    const ids = await auditRowIds(server.database.url);
    for (const change of [
      `status = 200`,
      `client = 'x'`,
      `details = '{"forged": true}'`,
      `at = at + interval '1 second'`,
    ]) {
      const victim = ids[3];
      const [saved] = await query(
        server.database.url,
        'SELECT status, client, details, at FROM audit_events WHERE id = $1',
        [victim],
      );
      await tamper(server.database.url, `UPDATE audit_events SET ${change} WHERE id = $1`, [victim]);
      try {
        expect((await verify()).brokenAt?.id, change).toBe(victim);
      } finally {
        await tamper(
          server.database.url,
          'UPDATE audit_events SET status = $2, client = $3, details = $4, at = $5 WHERE id = $1',
          [victim, saved.status, saved.client, saved.details, saved.at],
        );
      }
    }
    expect((await verify()).ok).toBe(true);
  });

  it('names the row after one deleted directly in PostgreSQL', async () => {
    const ids = await auditRowIds(server.database.url);
    await tamper(server.database.url, 'DELETE FROM audit_events WHERE id = $1', [ids[7]]);
    expect(await verify()).toMatchObject({
      ok: false,
      brokenAt: { id: ids[8], reason: expect.stringMatching(new RegExp(`not the hash of row ${ids[6]}`)) },
    });
  });
});

describe('audit retention', () => {
  let server: TestServer;
  let admin: Session;
  let audit: AuditService;

  beforeAll(async () => {
    // The first rows (the admin's creation among them) are 100 days old, the next 40.
    await withClockMoved(-100, async () => {
      server = await startTestServer(inject('databaseAdminUrl'));
      audit = server.app.get(AuditService);
      for (let i = 0; i < 5; i++)
        await audit.record({ system: true }, null, { action: 'retention.old', outcome: 'success' });
    });
    await withClockMoved(-40, async () => {
      for (let i = 0; i < 3; i++)
        await audit.record({ system: true }, null, { action: 'retention.recent', outcome: 'success' });
    });
    admin = await signIn(server.baseUrl);
  });
  afterAll(() => server?.close());

  const verify = async () => (await call(server.baseUrl, admin, 'GET', '/api/audit/verify')).body;

  it('removes the rows older than the days given, records what it removed, and the chain still verifies', async () => {
    const ids = await auditRowIds(server.database.url);
    const old = await query<{ id: string; hash: string }>(
      server.database.url,
      `SELECT id, hash FROM audit_events WHERE at < now() - interval '60 days' ORDER BY id`,
    );
    // The admin's creation and the five rows written with it.
    expect(old.length).toBeGreaterThanOrEqual(6);
    const last = old[old.length - 1];

    const { status, body } = await call(server.baseUrl, admin, 'POST', '/api/audit/retention', { olderThanDays: 60 });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ removed: old.length, firstRemovedId: ids[0], lastRemovedId: last.id });

    const kept = await auditRowIds(server.database.url);
    expect(kept[0]).toBe(ids[old.length]);
    const [retention] = await query(server.database.url, `SELECT * FROM audit_events WHERE id = $1`, [body.eventId]);
    expect(retention).toMatchObject({
      action: 'audit.retention',
      actor_name: 'admin',
      outcome: 'success',
      details: { olderThanDays: 60, removed: old.length, firstId: ids[0], lastId: last.id, lastRemovedHash: last.hash },
    });
    const [firstKept] = await query<{ prev_hash: string }>(
      server.database.url,
      'SELECT prev_hash FROM audit_events WHERE id = $1',
      [kept[0]],
    );
    expect(firstKept.prev_hash).toBe(last.hash);
    expect(await verify()).toMatchObject({ ok: true, firstRowId: kept[0], checked: kept.length });
  });

  it('prunes again and still verifies, and removing nothing is recorded as well', async () => {
    const second = await call(server.baseUrl, admin, 'POST', '/api/audit/retention', { olderThanDays: 30 });
    expect(second.body.removed).toBe(3);
    expect(await verify()).toMatchObject({ ok: true });
    const third = await call(server.baseUrl, admin, 'POST', '/api/audit/retention', { olderThanDays: 30 });
    expect(third.body).toMatchObject({ removed: 0, firstRemovedId: null, lastRemovedId: null });
    const rows = await query(
      server.database.url,
      `SELECT details FROM audit_events WHERE action = 'audit.retention' ORDER BY id`,
    );
    expect(rows.map((row) => (row.details as { removed: number }).removed).slice(1)).toEqual([3, 0]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('is refused to a direct call of the prune function and to a plain DELETE', async () => {
    await expect(query(server.database.url, `SELECT audit_events_prune(now())`)).rejects.toThrow(
      /must be the audit.retention row/,
    );
    await expect(query(server.database.url, 'DELETE FROM audit_events')).rejects.toThrow(/append-only/);
  });

  it('names a row changed after a prune', async () => {
    const [first] = await auditRowIds(server.database.url);
    await tamper(server.database.url, `UPDATE audit_events SET outcome = 'denied' WHERE id = $1`, [first]);
    try {
      expect(await verify()).toMatchObject({ ok: false, brokenAt: { id: first } });
    } finally {
      await tamper(server.database.url, `UPDATE audit_events SET outcome = 'success' WHERE id = $1`, [first]);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('names the first row kept when rows after the pruned ones were removed outside retention', async () => {
    const ids = await auditRowIds(server.database.url);
    await tamper(server.database.url, 'DELETE FROM audit_events WHERE id = $1', [ids[0]]);
    expect(await verify()).toMatchObject({
      ok: false,
      brokenAt: { id: ids[1], reason: expect.stringMatching(/retention/) },
    });
  });
});
