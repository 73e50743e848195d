import { CONSOLE_NAMESPACE, type HostSummary, hostPressure } from '@skiff/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AgentKey, inventory, openLink, respond } from '../../../test/support/fake-agent-key.js';
import { call, type Session, signIn, startTestServer, type TestServer } from '../../../test/support/test-server.js';

describe('the console feed', () => {
  let server: TestServer;
  let session: Session;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer(inject('databaseAdminUrl'));
    session = await signIn(server.baseUrl);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  afterAll(() => server?.close());

  const connect = (cookie?: string) => {
    const socket = io(`${server.baseUrl}${CONSOLE_NAMESPACE}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      extraHeaders: cookie ? { cookie } : {},
    });
    sockets.push(socket);
    return socket;
  };
  const next = <T>(socket: Socket, event: string) => new Promise<T>((resolve) => socket.once(event, resolve));

  it('refuses a browser without a session', async () => {
    const error = await next<Error>(connect(), 'connect_error');
    expect(error.message).toBe('unauthenticated');
  });

  it('refuses a session cookie that is not a session', async () => {
    const error = await next<Error>(connect('skiff_session=sks_forged'), 'connect_error');
    expect(error.message).toBe('unauthenticated');
  });

  it('sends the hosts on connection, then each host as it enrols, comes online and is revoked', async () => {
    const socket = connect(session.cookie);
    expect(await next<HostSummary[]>(socket, 'hosts.snapshot')).toEqual([]);

    const token = (await call(server.baseUrl, session, 'POST', '/api/join-tokens', {})).body.token as string;
    const key = new AgentKey();
    const enrolledUpdate = next<HostSummary>(socket, 'host.updated');
    const enrolled = await call(server.baseUrl, null, 'POST', '/api/agents/enrol', key.enrolBody(token, 'db-01'));
    const hostId = enrolled.body.hostId as string;
    expect(await enrolledUpdate).toMatchObject({ id: hostId, name: 'db-01', status: 'offline' });

    const onlineUpdate = next<HostSummary>(socket, 'host.updated');
    const link = await openLink(server.baseUrl);
    expect((await respond(link, hostId, key.answer(link.nonce, hostId))).ok).toBe(true);
    expect(await onlineUpdate).toMatchObject({ id: hostId, status: 'online', inventory: { hostname: 'web-01' } });

    const removed = next<{ id: string }>(socket, 'host.removed');
    await call(server.baseUrl, session, 'DELETE', `/api/hosts/${hostId}`);
    expect(await removed).toEqual({ id: hostId });
    link.socket.disconnect();
  });

  it('shows a host’s usage from its heartbeats, and a change of pressure at once', async () => {
    const token = (await call(server.baseUrl, session, 'POST', '/api/join-tokens', {})).body.token as string;
    const key = new AgentKey();
    const enrolled = await call(server.baseUrl, null, 'POST', '/api/agents/enrol', key.enrolBody(token, 'disk-01'));
    const hostId = enrolled.body.hostId as string;
    const link = await openLink(server.baseUrl);
    expect((await respond(link, hostId, key.answer(link.nonce, hostId))).ok).toBe(true);
    const socket = connect(session.cookie);
    await next(socket, 'hosts.snapshot');
    const updates: HostSummary[] = [];
    // Only updates with usage: the one for the link coming up may arrive after the snapshot.
    socket.on('host.updated', (host: HostSummary) => {
      if (host.id === hostId && host.inventory?.usage) updates.push(host);
    });
    const usage = (diskFreeBytes: number) => ({
      ...inventory,
      usage: { memoryAvailableBytes: 4 * 2 ** 30, diskTotalBytes: 1000 * 2 ** 20, diskFreeBytes, load1: 0.5 },
    });

    link.socket.emit('heartbeat', usage(500 * 2 ** 20));
    await expect.poll(() => updates.length).toBe(1);
    expect(hostPressure(updates[0].inventory)).toEqual([]);
    // Usage alone goes out at most every few seconds…
    link.socket.emit('heartbeat', usage(400 * 2 ** 20));
    // …but running short of disk goes out at once.
    link.socket.emit('heartbeat', usage(50 * 2 ** 20));
    await expect.poll(() => updates.length).toBe(2);
    expect(updates[1].inventory?.usage).toMatchObject({ diskFreeBytes: 50 * 2 ** 20 });
    expect(hostPressure(updates[1].inventory)).toEqual(['disk']);
    const listed = await call(server.baseUrl, session, 'GET', `/api/hosts/${hostId}`);
    expect(listed.body.inventory.usage).toEqual(usage(50 * 2 ** 20).usage);

    // A malformed report is refused whole and shown to nobody; the next good one counts.
    link.socket.emit('heartbeat', { ...inventory, usage: { diskFreeBytes: 'plenty' } });
    link.socket.emit('heartbeat', usage(40 * 2 ** 20));
    await expect
      .poll(async () => (await call(server.baseUrl, session, 'GET', `/api/hosts/${hostId}`)).body.inventory.usage)
      .toMatchObject({ diskFreeBytes: 40 * 2 ** 20 });
    expect(updates).toHaveLength(2);

    // Reports are recorded in the order they were sent: the last one is what the host shows.
    for (let mib = 60; mib > 30; mib--) link.socket.emit('heartbeat', usage(mib * 2 ** 20));
    link.socket.emit('heartbeat', usage(30 * 2 ** 20));
    await expect
      .poll(async () => (await call(server.baseUrl, session, 'GET', `/api/hosts/${hostId}`)).body.inventory.usage)
      .toMatchObject({ diskFreeBytes: 30 * 2 ** 20 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const last = await call(server.baseUrl, session, 'GET', `/api/hosts/${hostId}`);
    expect(last.body.inventory.usage).toMatchObject({ diskFreeBytes: 30 * 2 ** 20 });
    link.socket.disconnect();
  });

  it('closes the feed when its session signs out', async () => {
    const own = await signIn(server.baseUrl);
    const socket = connect(own.cookie);
    await next(socket, 'hosts.snapshot');
    const closed = next<string>(socket, 'disconnect');
    expect((await call(server.baseUrl, own, 'POST', '/api/auth/logout')).status).toBe(204);
    expect(await closed).toBe('io server disconnect');
  });
});
