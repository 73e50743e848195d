import {
  BUILT_IN_ROLES,
  BUILT_IN_ROLE_NAMES,
  type BuiltInRoleName,
  ENGINE_ROUTES,
  type EngineRoute,
} from '@skiff/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AgentKey } from '../../../test/support/fake-agent-key.js';
import { query } from '../../../test/support/database.js';
import {
  call,
  type Session,
  signIn,
  signInAs,
  startTestServer,
  type TestServer,
} from '../../../test/support/test-server.js';
import { PEOPLE_PASSWORD, createUser, createUserWithRole, grant } from '../../../test/support/people.js';

/** A concrete request for a route of the table: parameters filled in, a JSON body where one goes. */
function requestOf(route: EngineRoute): { path: string; body?: unknown } {
  const path = `/v1.41${route.path.replace('{id}', 'abc123').replace('{name}', 'busybox:latest')}`;
  return route.method === 'POST' && route.stream !== 'upload' ? { path, body: {} } : { path };
}

/**
 * Every route of the Engine API table, for every built-in role, against a host that is enrolled
 * but not connected: a call the role may make gets as far as the link (503: the host is not
 * connected), a call it may not make is refused (403) before. Derived from the table, so a new
 * route is covered as soon as it is added.
 */
describe('engine proxy permissions and audit', () => {
  let server: TestServer;
  let admin: Session;
  let hostId: string;
  const sessions = new Map<BuiltInRoleName, Session>();

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    const token = await call(server.baseUrl, admin, 'POST', '/api/join-tokens', {});
    const enrolled = await call(
      server.baseUrl,
      null,
      'POST',
      '/api/agents/enrol',
      new AgentKey().enrolBody(token.body.token, 'offline-01'),
    );
    expect(enrolled.status).toBe(201);
    hostId = enrolled.body.hostId as string;
    sessions.set('admin', admin);
    for (const role of ['operator', 'viewer'] as const) {
      sessions.set(role, await createUserWithRole(server.baseUrl, admin, `${role}-user`, role));
    }
  });

  afterAll(async () => {
    await server?.close();
  });

  for (const role of BUILT_IN_ROLE_NAMES) {
    it(`allows and refuses every engine route as the ${role} role says`, async () => {
      const session = sessions.get(role)!;
      const outcomes: string[] = [];
      const expected: string[] = [];
      for (const route of ENGINE_ROUTES) {
        const request = requestOf(route);
        const answer = await call(
          server.baseUrl,
          session,
          route.method,
          `/api/hosts/${hostId}/engine${request.path}`,
          request.body,
        );
        const allowed = BUILT_IN_ROLES[role].includes(route.permission);
        outcomes.push(`${route.key} → ${answer.status}`);
        expected.push(`${route.key} → ${allowed ? 503 : 403}`);
      }
      expect(outcomes).toEqual(expected);
    });
  }

  it('refuses a path outside the route table without forwarding it', async () => {
    const answer = await call(server.baseUrl, admin, 'POST', `/api/hosts/${hostId}/engine/v1.41/swarm/init`, {});
    expect(answer.status).toBe(403);
    expect(answer.body.message).toMatch(/POST \/v1\.41\/swarm\/init is not an Engine API route Skiff forwards/);
  });

  it('hides a host from a caller who may not see it', async () => {
    const answer = await call(
      server.baseUrl,
      admin,
      'GET',
      `/api/hosts/00000000-0000-4000-8000-000000000000/engine/_ping`,
    );
    expect(answer.status).toBe(404);
  });

  it('follows a label change at once: a host group grant reaches the host, and leaves it', async () => {
    const group = await call(server.baseUrl, admin, 'POST', '/api/host-groups', {
      name: 'edge',
      selector: { site: 'edge' },
    });
    expect(group.status).toBe(201);
    const userId = await createUser(server.baseUrl, admin, 'edgar');
    await grant(server.baseUrl, admin, { userId }, 'viewer', group.body.id as string);
    const edgar = await signInAs(server.baseUrl, 'edgar', PEOPLE_PASSWORD);
    const list = () => call(server.baseUrl, edgar, 'GET', `/api/hosts/${hostId}/engine/v1.41/containers/json`);
    const label = (labels: Record<string, string>) =>
      call(server.baseUrl, admin, 'PUT', `/api/hosts/${hostId}/labels`, { labels });

    // Read twice, so the host is in the proxy's cache before each change.
    for (let round = 0; round < 2; round += 1) {
      expect((await list()).status).toBe(404);
      expect((await list()).status).toBe(404);
      expect((await label({ site: 'edge' })).status).toBe(200);
      expect((await list()).status).toBe(503); // allowed: the host is enrolled but not connected
      expect((await list()).status).toBe(503);
      expect((await label({})).status).toBe(200);
    }
  });

  it('writes exactly one audit row for every mutating route, with actor, action and outcome', async () => {
    const mutating = ENGINE_ROUTES.filter((route) => route.audit !== null);
    expect(mutating.length).toBeGreaterThan(30);
    for (const [role, session] of [
      ['admin', admin],
      ['viewer', sessions.get('viewer')!],
    ] as const) {
      for (const route of mutating) {
        const [{ max }] = await query<{ max: string | null }>(
          server.database.url,
          'SELECT max(id) AS max FROM audit_events',
        );
        const request = requestOf(route);
        await call(server.baseUrl, session, route.method, `/api/hosts/${hostId}/engine${request.path}`, request.body);
        const rows = await query<{
          action: string;
          outcome: string;
          actor_name: string;
          host_id: string;
          status: number;
        }>(
          server.database.url,
          'SELECT action, outcome, actor_name, host_id, status FROM audit_events WHERE id > $1 ORDER BY id',
          [max ?? '0'],
        );
        const allowed = BUILT_IN_ROLES[role].includes(route.permission);
        expect(rows, `${role} ${route.key}`).toEqual([
          {
            action: route.audit,
            outcome: allowed ? 'failure' : 'denied',
            actor_name: role === 'admin' ? 'admin' : 'viewer-user',
            host_id: hostId,
            status: allowed ? 503 : 403,
          },
        ]);
      }
    }
  });

  it('refuses a privileged create to an operator, names why, and records it', async () => {
    const operator = sessions.get('operator')!;
    const answer = await call(server.baseUrl, operator, 'POST', `/api/hosts/${hostId}/engine/v1.41/containers/create`, {
      Image: 'busybox',
      Env: ['DB_PASSWORD=hunter2'],
      HostConfig: { Privileged: true, Binds: ['/etc:/host-etc'] },
    });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(
      'you need the container.privileged permission on host offline-01 for privileged mode, host bind mount of /etc',
    );
    const [row] = await query<{ outcome: string; details: unknown }>(
      server.database.url,
      `SELECT outcome, details FROM audit_events WHERE action = 'container.create' ORDER BY id DESC LIMIT 1`,
    );
    expect(row.outcome).toBe('denied');
    expect(JSON.stringify(row.details)).not.toContain('hunter2');
  });
});
