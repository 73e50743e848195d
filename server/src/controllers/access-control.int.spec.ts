import { BUILT_IN_ROLES, HOST_SCOPED_PERMISSIONS, PERMISSIONS } from '@skiff/protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../../test/support/database.js';
import { AgentKey } from '../../../test/support/fake-agent-key.js';
import { createUser, grant, PEOPLE_PASSWORD, roleId } from '../../../test/support/people.js';
import {
  call,
  type Session,
  signIn,
  signInAs,
  startTestServer,
  type TestServer,
} from '../../../test/support/test-server.js';

describe('access control', () => {
  let server: TestServer;
  let admin: Session;
  let prodHost: string;
  let devHost: string;
  let prodGroup: string;
  let operatorId: string;
  let viewerId: string;
  let operator: Session;
  let viewer: Session;

  const as = (session: Session | null, method: string, path: string, body?: unknown) =>
    call(server.baseUrl, session, method, path, body);
  const withToken = (token: string, method: string, path: string, body?: unknown) =>
    call(server.baseUrl, null, method, path, body, { authorization: `Bearer ${token}` });

  async function enrol(name: string): Promise<string> {
    const token = await as(admin, 'POST', '/api/join-tokens', {});
    const enrolled = await as(null, 'POST', '/api/agents/enrol', new AgentKey().enrolBody(token.body.token, name));
    expect(enrolled.status).toBe(201);
    return enrolled.body.hostId as string;
  }

  async function lastAudit(action: string) {
    const [row] = await query<{
      actor_name: string;
      outcome: string;
      target: string;
      details: Record<string, unknown>;
    }>(
      server.database.url,
      'SELECT actor_name, outcome, target, details FROM audit_events WHERE action = $1 ORDER BY id DESC LIMIT 1',
      [action],
    );
    return row;
  }

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    admin = await signIn(server.baseUrl);
    prodHost = await enrol('prod-01');
    devHost = await enrol('dev-01');
    expect((await as(admin, 'PUT', `/api/hosts/${prodHost}/labels`, { labels: { env: 'prod' } })).status).toBe(200);
    const group = await as(admin, 'POST', '/api/host-groups', { name: 'production', selector: { env: 'prod' } });
    expect(group.status).toBe(201);
    prodGroup = group.body.id as string;

    operatorId = await createUser(server.baseUrl, admin, 'olga');
    viewerId = await createUser(server.baseUrl, admin, 'victor');
    await grant(server.baseUrl, admin, { userId: operatorId }, 'operator');
    await grant(server.baseUrl, admin, { userId: viewerId }, 'viewer', prodGroup);
    operator = await signInAs(server.baseUrl, 'olga', PEOPLE_PASSWORD);
    viewer = await signInAs(server.baseUrl, 'victor', PEOPLE_PASSWORD);
  });
  afterAll(() => server?.close());

  it('gives the bootstrap admin every permission on every host', async () => {
    const mine = await as(admin, 'GET', '/api/me/permissions');
    expect(mine.status).toBe(200);
    expect(mine.body.global).toEqual([...PERMISSIONS]);
    expect(Object.keys(mine.body.hosts).sort()).toEqual([prodHost, devHost].sort());
  });

  it('lets an admin create users and grants, and records both', async () => {
    const users = await as(admin, 'GET', '/api/users');
    expect(users.body.map((user: { username: string }) => user.username)).toEqual(['admin', 'olga', 'victor']);
    expect(users.body[1]).toMatchObject({ id: operatorId, disabled: false, totpEnabled: false });
    expect(await lastAudit('user.create')).toMatchObject({
      actor_name: 'admin',
      outcome: 'success',
      target: viewerId,
      details: { username: 'victor' },
    });
    expect(JSON.stringify(await lastAudit('user.create'))).not.toContain(PEOPLE_PASSWORD);
    expect((await lastAudit('grant.create')).details).toMatchObject({
      role: 'viewer',
      username: 'victor',
      hostGroup: 'production',
    });
    const grants = await as(admin, 'GET', `/api/grants?userId=${viewerId}`);
    expect(grants.body).toEqual([
      expect.objectContaining({
        role: expect.objectContaining({ name: 'viewer' }),
        user: { id: viewerId, username: 'victor' },
        team: null,
        hostGroup: { id: prodGroup, name: 'production' },
      }),
    ]);
  });

  it('refuses a duplicate username in any letter case and a short password', async () => {
    const again = await as(admin, 'POST', '/api/users', { username: 'OLGA', password: PEOPLE_PASSWORD });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('a user named "OLGA" already exists');
    const short = await as(admin, 'POST', '/api/users', { username: 'shorty', password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.message).toMatch(/at least 12 characters/);
  });

  it('refuses user management to a viewer and an operator with 403, and to nobody signed in with 401', async () => {
    for (const session of [viewer, operator]) {
      const created = await as(session, 'POST', '/api/users', { username: 'mallory', password: PEOPLE_PASSWORD });
      expect(created.status).toBe(403);
      expect(created.body.message).toBe('POST /api/users needs the user.manage permission');
      expect((await as(session, 'GET', '/api/grants')).status).toBe(403);
    }
    expect((await as(null, 'GET', '/api/users')).status).toBe(401);
    const join = await as(operator, 'POST', '/api/join-tokens', {});
    expect(join.status).toBe(403);
    expect(join.body.message).toMatch(/needs the host\.manage permission/);
  });

  it('shows a viewer only the hosts of its group, and hides the others entirely', async () => {
    const hosts = await as(viewer, 'GET', '/api/hosts');
    expect(hosts.body.map((host: { name: string }) => host.name)).toEqual(['prod-01']);
    expect(hosts.body[0].labels).toEqual({ env: 'prod' });
    expect((await as(viewer, 'GET', `/api/hosts/${prodHost}`)).status).toBe(200);
    const hidden = await as(viewer, 'GET', `/api/hosts/${devHost}`);
    expect(hidden).toEqual({ status: 404, body: { kind: 'not-found', message: `no such host: ${devHost}` } });

    const mine = await as(viewer, 'GET', '/api/me/permissions');
    expect(mine.body).toEqual({
      global: [],
      hostGroups: [{ group: { id: prodGroup, name: 'production' }, permissions: [...BUILT_IN_ROLES.viewer] }],
      hosts: { [prodHost]: [...BUILT_IN_ROLES.viewer] },
    });
  });

  it('lets only host.manage on a host change its labels or revoke it', async () => {
    const denied = await as(viewer, 'PUT', `/api/hosts/${prodHost}/labels`, { labels: { env: 'prod', x: 'y' } });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe('you need the host.manage permission on host prod-01 to change its labels');
    expect((await as(viewer, 'PUT', `/api/hosts/${devHost}/labels`, { labels: {} })).status).toBe(404);
    expect((await as(viewer, 'DELETE', `/api/hosts/${prodHost}`)).status).toBe(403);
    expect((await as(operator, 'DELETE', `/api/hosts/${devHost}`)).status).toBe(403);

    const bad = await as(admin, 'PUT', `/api/hosts/${devHost}/labels`, { labels: { 'bad key': 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/label key "bad key"/);
    const relabelled = await as(admin, 'PUT', `/api/hosts/${devHost}/labels`, { labels: { env: 'dev' } });
    expect(relabelled).toMatchObject({ status: 200, body: { id: devHost, labels: { env: 'dev' } } });
    expect(await lastAudit('host.labels')).toMatchObject({ actor_name: 'admin', details: { labels: { env: 'dev' } } });
  });

  it('refuses labels that would give the one setting them more on that host', async () => {
    const labellerId = await createUser(server.baseUrl, admin, 'gina');
    await as(admin, 'POST', '/api/roles', { name: 'labeller', permissions: ['host.view', 'host.manage'] });
    await as(admin, 'POST', '/api/roles', { name: 'escalator', permissions: ['container.exec'] });
    const sandbox = await as(admin, 'POST', '/api/host-groups', { name: 'sandbox', selector: { sandbox: 'yes' } });
    await grant(server.baseUrl, admin, { userId: labellerId }, 'labeller', prodGroup);
    await grant(server.baseUrl, admin, { userId: labellerId }, 'escalator', sandbox.body.id);
    const gina = await signInAs(server.baseUrl, 'gina', PEOPLE_PASSWORD);

    const escalating = await as(gina, 'PUT', `/api/hosts/${prodHost}/labels`, {
      labels: { env: 'prod', sandbox: 'yes' },
    });
    expect(escalating.status).toBe(403);
    expect(escalating.body.message).toBe(
      'these labels would give you container.exec on host prod-01 through a host group; ' +
        'ask someone who holds them to change the labels',
    );
    expect((await as(admin, 'GET', `/api/host-groups/${sandbox.body.id}`)).body.hosts).toEqual([]);

    const harmless = await as(gina, 'PUT', `/api/hosts/${prodHost}/labels`, { labels: { env: 'prod', tier: 'web' } });
    expect(harmless).toMatchObject({ status: 200, body: { labels: { env: 'prod', tier: 'web' } } });
    expect(await lastAudit('host.labels')).toMatchObject({
      actor_name: 'gina',
      details: { labels: { env: 'prod', tier: 'web' }, previous: { env: 'prod' } },
    });
    await as(admin, 'PUT', `/api/hosts/${prodHost}/labels`, { labels: { env: 'prod' } });
  });

  it('gives the members of a team what the team is granted, and takes it back with the membership', async () => {
    const memberId = await createUser(server.baseUrl, admin, 'tess');
    const team = await as(admin, 'POST', '/api/teams', { name: 'Platform', description: 'runs the fleet' });
    expect(team.status).toBe(201);
    await grant(server.baseUrl, admin, { teamId: team.body.id }, 'operator');
    expect((await as(admin, 'PUT', `/api/teams/${team.body.id}/members/${memberId}`)).status).toBe(204);
    expect(await lastAudit('team.member-add')).toMatchObject({ details: { team: 'Platform', username: 'tess' } });

    const tess = await signInAs(server.baseUrl, 'tess', PEOPLE_PASSWORD);
    const mine = await as(tess, 'GET', '/api/me/permissions');
    expect(mine.body.global).toEqual([...BUILT_IN_ROLES.operator]);
    expect((await as(tess, 'GET', '/api/hosts')).body).toHaveLength(2);
    expect((await as(admin, 'GET', '/api/teams')).body).toEqual([
      expect.objectContaining({ id: team.body.id, name: 'Platform', description: 'runs the fleet', memberCount: 1 }),
    ]);
    expect((await as(admin, 'GET', `/api/teams/${team.body.id}`)).body).toMatchObject({
      name: 'Platform',
      memberCount: 1,
      members: [{ id: memberId, username: 'tess' }],
    });

    expect((await as(admin, 'DELETE', `/api/teams/${team.body.id}/members/${memberId}`)).status).toBe(204);
    expect((await as(tess, 'GET', '/api/me/permissions')).body.global).toEqual([]);
    expect((await as(tess, 'GET', '/api/hosts')).body).toEqual([]);
  });

  it('keeps a token within its permissions, and within its owner', async () => {
    const limited = await as(operator, 'POST', '/api/tokens', { name: 'read only', permissions: ['container.view'] });
    expect(limited.status).toBe(201);
    expect(limited.body.permissions).toEqual(['container.view']);
    const token = limited.body.token as string;
    const mine = await withToken(token, 'GET', '/api/me/permissions');
    expect(mine.body.global).toEqual(['container.view']);
    // Without host.view the token sees no host at all.
    expect((await withToken(token, 'GET', '/api/hosts')).body).toEqual([]);
    expect((await as(operator, 'GET', '/api/tokens')).body[0].permissions).toEqual(['container.view']);

    const beyondOwner = await as(operator, 'POST', '/api/tokens', { name: 'x', permissions: ['user.manage'] });
    expect(beyondOwner.status).toBe(400);
    expect(beyondOwner.body.message).toBe('cannot give a token the user.manage permission: you do not hold it');
    const beyondToken = await withToken(token, 'POST', '/api/tokens', { name: 'x', permissions: ['container.exec'] });
    expect(beyondToken.status).toBe(400);
    expect(beyondToken.body.message).toMatch(/container\.exec/);
    const inherited = await withToken(token, 'POST', '/api/tokens', { name: 'child' });
    expect(inherited.body.permissions).toEqual(['container.view']);
    const unknown = await as(operator, 'POST', '/api/tokens', { name: 'x', permissions: ['host.reboot'] });
    expect(unknown.status).toBe(400);

    const adminToken = await as(admin, 'POST', '/api/tokens', { name: 'hosts only', permissions: ['host.view'] });
    const usersWithToken = await withToken(adminToken.body.token, 'GET', '/api/users');
    expect(usersWithToken.status).toBe(403);
    expect((await withToken(adminToken.body.token, 'GET', '/api/hosts')).body).toHaveLength(2);
  });

  it('gives a group grant only host permissions, and lets a token hold one it holds on a group', async () => {
    const created = await as(viewer, 'POST', '/api/tokens', { name: 'logs', permissions: ['container.logs'] });
    expect(created.status).toBe(201);
    const hosts = await withToken(created.body.token, 'GET', '/api/me/permissions');
    expect(hosts.body).toEqual({
      global: [],
      hostGroups: [{ group: { id: prodGroup, name: 'production' }, permissions: ['container.logs'] }],
      hosts: {},
    });
  });

  it('stops a disabled user at once: sign-in, sessions and tokens', async () => {
    const userId = await createUser(server.baseUrl, admin, 'dora');
    await grant(server.baseUrl, admin, { userId }, 'viewer');
    const dora = await signInAs(server.baseUrl, 'dora', PEOPLE_PASSWORD);
    const token = (await as(dora, 'POST', '/api/tokens', { name: 'cli' })).body.token as string;
    expect((await withToken(token, 'GET', '/api/hosts')).status).toBe(200);

    const disabled = await as(admin, 'PATCH', `/api/users/${userId}`, { disabled: true });
    expect(disabled).toMatchObject({ status: 200, body: { disabled: true } });
    expect(await lastAudit('user.disable')).toMatchObject({ actor_name: 'admin', target: userId });
    expect((await as(dora, 'GET', '/api/hosts')).status).toBe(401);
    expect((await withToken(token, 'GET', '/api/hosts')).status).toBe(401);
    const login = await as(null, 'POST', '/api/auth/login', { username: 'dora', password: PEOPLE_PASSWORD });
    expect(login.status).toBe(403);
    expect(login.body.message).toBe('account "dora" is disabled');

    expect((await as(admin, 'PATCH', `/api/users/${userId}`, { disabled: false })).status).toBe(200);
    expect((await withToken(token, 'GET', '/api/hosts')).status).toBe(200);
    expect((await as(dora, 'GET', '/api/hosts')).status).toBe(401);
  });

  it('keeps the last enabled user manager, and nobody can disable or delete themself', async () => {
    const [me] = (await as(admin, 'GET', '/api/users')).body as Array<{ id: string }>;
    const self = await as(admin, 'PATCH', `/api/users/${me.id}`, { disabled: true });
    expect(self).toEqual({ status: 403, body: { kind: 'forbidden', message: 'you cannot disable your own account' } });
    expect((await as(admin, 'DELETE', `/api/users/${me.id}`)).status).toBe(403);

    const [adminGrant] = (await as(admin, 'GET', `/api/grants?userId=${me.id}`)).body as Array<{ id: string }>;
    const last = await as(admin, 'DELETE', `/api/grants/${adminGrant.id}`);
    expect(last.status).toBe(409);
    expect(last.body.message).toBe(
      'cannot delete this grant: no other enabled user would be left with the user.manage permission',
    );

    // With a second admin, the first one's grant can go; the second can then not be disabled by anyone.
    const secondId = await createUser(server.baseUrl, admin, 'ada');
    await grant(server.baseUrl, admin, { userId: secondId }, 'admin');
    const ada = await signInAs(server.baseUrl, 'ada', PEOPLE_PASSWORD);
    expect((await as(ada, 'DELETE', `/api/grants/${adminGrant.id}`)).status).toBe(204);
    expect((await as(admin, 'GET', '/api/users')).status).toBe(403);
    const disableAda = await as(ada, 'PATCH', `/api/users/${secondId}`, { disabled: true });
    expect(disableAda.status).toBe(403);
    await grant(server.baseUrl, ada, { userId: me.id }, 'admin');
    expect((await as(admin, 'GET', '/api/users')).status).toBe(200);
  });

  it('lets an admin reset a password, which ends that user’s sessions', async () => {
    const userId = await createUser(server.baseUrl, admin, 'pete');
    const pete = await signInAs(server.baseUrl, 'pete', PEOPLE_PASSWORD);
    const reset = await as(admin, 'POST', `/api/users/${userId}/password`, { password: 'a brand new password' });
    expect(reset.status).toBe(204);
    expect((await as(pete, 'GET', '/api/auth/me')).status).toBe(401);
    await signInAs(server.baseUrl, 'pete', 'a brand new password');
    expect(JSON.stringify(await lastAudit('user.password-reset'))).not.toContain('a brand new password');
  });

  it('lets a user change their own password with the current one', async () => {
    await createUser(server.baseUrl, admin, 'cara');
    const cara = await signInAs(server.baseUrl, 'cara', PEOPLE_PASSWORD);
    const other = await signInAs(server.baseUrl, 'cara', PEOPLE_PASSWORD);
    const wrong = await as(cara, 'POST', '/api/me/password', {
      currentPassword: 'not it',
      newPassword: 'another long password',
    });
    expect(wrong).toEqual({ status: 403, body: { kind: 'forbidden', message: 'the current password is wrong' } });
    const changed = await as(cara, 'POST', '/api/me/password', {
      currentPassword: PEOPLE_PASSWORD,
      newPassword: 'another long password',
    });
    expect(changed.status).toBe(204);
    expect((await as(cara, 'GET', '/api/auth/me')).status).toBe(200);
    expect((await as(other, 'GET', '/api/auth/me')).status).toBe(401);
    await signInAs(server.baseUrl, 'cara', 'another long password');
  });

  it('keeps built-in roles read-only and custom roles in use', async () => {
    const viewerRole = await roleId(server.baseUrl, admin, 'viewer');
    const edit = await as(admin, 'PATCH', `/api/roles/${viewerRole}`, { permissions: ['host.view'] });
    expect(edit.status).toBe(409);
    expect(edit.body.message).toBe('role viewer is built in and cannot be changed; make a custom role instead');
    expect((await as(admin, 'DELETE', `/api/roles/${viewerRole}`)).status).toBe(409);

    const unknown = await as(admin, 'POST', '/api/roles', { name: 'odd', permissions: ['host.reboot'] });
    expect(unknown.status).toBe(400);
    const created = await as(admin, 'POST', '/api/roles', {
      name: 'log reader',
      permissions: ['container.logs', 'host.view', 'container.view'],
    });
    expect(created.body).toMatchObject({
      builtIn: false,
      permissions: ['host.view', 'container.view', 'container.logs'],
    });
    const userId = await createUser(server.baseUrl, admin, 'lou');
    await grant(server.baseUrl, admin, { userId }, 'log reader', prodGroup);
    const inUse = await as(admin, 'DELETE', `/api/roles/${created.body.id}`);
    expect(inUse.status).toBe(409);
    expect(inUse.body.message).toBe('role log reader is used by 1 grant; delete it first');

    const changed = await as(admin, 'PATCH', `/api/roles/${created.body.id}`, { permissions: ['host.view'] });
    expect(changed.body.permissions).toEqual(['host.view']);
    const lou = await signInAs(server.baseUrl, 'lou', PEOPLE_PASSWORD);
    expect((await as(lou, 'GET', '/api/me/permissions')).body.hosts).toEqual({ [prodHost]: ['host.view'] });
  });

  it('lists every permission with a description, and documents every new route', async () => {
    const permissions = await as(viewer, 'GET', '/api/permissions');
    expect(permissions.body.map((permission: { name: string }) => permission.name)).toEqual([...PERMISSIONS]);
    expect(permissions.body.filter((permission: { hostScoped: boolean }) => permission.hostScoped)).toHaveLength(
      HOST_SCOPED_PERMISSIONS.length,
    );
    const docs = await as(null, 'GET', '/api/docs-json');
    expect(Object.keys(docs.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/users',
        '/api/users/{id}',
        '/api/users/{id}/password',
        '/api/users/{id}/totp',
        '/api/me/permissions',
        '/api/me/password',
        '/api/me/totp',
        '/api/me/totp/confirm',
        '/api/teams',
        '/api/teams/{id}/members/{userId}',
        '/api/roles',
        '/api/roles/{id}',
        '/api/permissions',
        '/api/host-groups',
        '/api/host-groups/{id}',
        '/api/grants',
        '/api/grants/{id}',
        '/api/hosts/{id}/labels',
      ]),
    );
  });
});
