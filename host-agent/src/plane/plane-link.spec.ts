import {
  AGENT_NAMESPACE,
  challengePayload,
  type AgentToServerEvents,
  type AuthResponse,
  type AuthResult,
  type EngineCall,
  type EngineCallHead,
  type ErrorBody,
  type HostInventory,
  type ServerToAgentEvents,
} from '@skiff/protocol';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { HostKey } from './host-key.js';
import { PlaneLink, type LinkOutcome, type PlaneLinkOptions } from './plane-link.js';
import type { DoorRequests, PlaneDoor, PlaneSession } from './plane-session.js';

type AgentSide = Socket<AgentToServerEvents, ServerToAgentEvents>;

function verifiesWith(publicKey: string, payload: Buffer, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  return verify(null, payload, key, Buffer.from(signature, 'base64'));
}

interface Connection {
  socket: AgentSide;
  nonce: string;
  response?: AuthResponse;
  authenticatedAt?: number;
  heartbeats: Array<{ at: number; inventory: HostInventory }>;
  heads: EngineCallHead[];
  resets: Array<[number, ErrorBody | null]>;
  data: Array<[number, string]>;
}

/**
 * A stand-in for the server's /agents namespace: challenges every connection, checks the
 * signature against the enrolled public key and answers as `decide` says.
 */
class FakePlane {
  readonly connections: Connection[] = [];
  decide: (connection: Connection, signatureValid: boolean) => AuthResult = (_connection, valid) =>
    valid
      ? { ok: true, hostId: 'host-1', name: 'web-1' }
      : { ok: false, error: { kind: 'unauthenticated', message: 'bad signature' } };
  challengeDelayMs = 0;
  /** Sends an engine call on every connection before its challenge. */
  callBeforeChallenge: EngineCall | undefined;

  private constructor(
    private readonly http: HttpServer,
    private readonly io: Server<AgentToServerEvents, ServerToAgentEvents>,
    readonly publicKey: string,
  ) {
    io.of(AGENT_NAMESPACE).on('connection', (socket) => this.accept(socket));
  }

  static async start(publicKey: string, port = 0): Promise<FakePlane> {
    const http = createServer();
    const io = new Server<AgentToServerEvents, ServerToAgentEvents>(http, { transports: ['websocket'] });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    return new FakePlane(http, io, publicKey);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  get authenticated(): Connection[] {
    return this.connections.filter((connection) => connection.authenticatedAt !== undefined);
  }

  async close(): Promise<void> {
    await this.io.close();
  }

  private accept(socket: AgentSide): void {
    const connection: Connection = {
      socket,
      nonce: randomBytes(16).toString('base64url'),
      heartbeats: [],
      heads: [],
      resets: [],
      data: [],
    };
    this.connections.push(connection);
    socket.on('heartbeat', (inventory) => connection.heartbeats.push({ at: Date.now(), inventory }));
    socket.on('engine.head', (head) => connection.heads.push(head));
    socket.on('stream.reset', (id, error) => connection.resets.push([id, error]));
    socket.on('stream.data', (id, chunk) => connection.data.push([id, Buffer.from(chunk).toString()]));
    if (this.callBeforeChallenge) socket.emit('engine.call', this.callBeforeChallenge);
    socket.on('auth.response', (response, ack) => {
      connection.response = response;
      const valid = verifiesWith(
        this.publicKey,
        challengePayload(connection.nonce, response.hostId),
        response.signature,
      );
      const result = this.decide(connection, valid);
      if (result.ok) connection.authenticatedAt = Date.now();
      ack(result);
    });
    setTimeout(() => socket.emit('auth.challenge', { nonce: connection.nonce }), this.challengeDelayMs);
  }
}

const INVENTORY: HostInventory = {
  hostname: 'web-1',
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.1.0',
  architecture: 'x64',
  cpus: 2,
  memoryBytes: 1024,
  cgroupVersion: 'v2',
  agentVersion: '0.1.0',
};

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const CALL: EngineCall = { stream: 7, method: 'GET', path: '/v1.41/_ping', headers: {}, body: false, upgrade: false };

/** A door that answers every call with a 200 head and echoes stream data back, recording what it saw. */
class RecordingDoor implements PlaneDoor {
  readonly sessions: PlaneSession[] = [];
  readonly calls: EngineCall[] = [];

  open(session: PlaneSession): DoorRequests {
    this.sessions.push(session);
    return {
      'engine.call': (call) => {
        this.calls.push(call);
        session.emit('engine.head', { stream: call.stream, status: 200, headers: {}, upgraded: false });
      },
      'stream.data': (id, chunk) => session.emit('stream.data', id, chunk),
      'stream.end': () => undefined,
      'stream.credit': () => undefined,
      'stream.reset': () => undefined,
    };
  }
}

describe(PlaneLink.name, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function startLink(
    serverUrl: string,
    key: HostKey,
    overrides: Partial<PlaneLinkOptions> = {},
  ): { outcome: Promise<LinkOutcome>; lines: string[]; inventoryCalls: () => number; stop: () => void } {
    const lines: string[] = [];
    let calls = 0;
    const link = new PlaneLink({
      serverUrl,
      hostId: 'host-1',
      key,
      collectInventory: () => {
        calls += 1;
        return Promise.resolve({ ...INVENTORY, cpus: calls });
      },
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
      heartbeatIntervalMs: 30,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, randomization: 0 },
      ...overrides,
    });
    const controller = new AbortController();
    const outcome = link.run(controller.signal);
    cleanups.push(async () => {
      controller.abort();
      await outcome;
    });
    return { outcome, lines, inventoryCalls: () => calls, stop: () => controller.abort() };
  }

  async function startPlane(key: HostKey, port?: number): Promise<FakePlane> {
    const plane = await FakePlane.start(key.publicKey, port);
    cleanups.push(() => plane.close());
    return plane;
  }

  it('answers the challenge with a signature over the nonce and the host inventory', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);

    const { lines } = startLink(plane.url, key);
    await waitFor(() => plane.authenticated.length === 1);

    const [connection] = plane.connections;
    expect(connection?.response?.hostId).toBe('host-1');
    expect(connection?.response?.inventory).toMatchObject({ hostname: 'web-1', cgroupVersion: 'v2' });
    const signature = connection?.response?.signature ?? '';
    expect(verifiesWith(key.publicKey, challengePayload(connection?.nonce ?? '', 'host-1'), signature)).toBe(true);
    await waitFor(() => lines.some((line) => line.includes('info  connected to')));
    expect(lines.join('')).toContain(`connected to ${plane.url} as host web-1 (host-1)`);
  });

  it('sends heartbeats with a fresh inventory once authenticated', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);

    startLink(plane.url, key);
    await waitFor(() => (plane.connections[0]?.heartbeats.length ?? 0) >= 3);

    const [connection] = plane.connections;
    const heartbeats = connection?.heartbeats ?? [];
    expect(heartbeats.every((beat) => beat.at >= (connection?.authenticatedAt ?? Infinity))).toBe(true);
    const cpus = heartbeats.map((beat) => beat.inventory.cpus);
    expect(new Set(cpus).size).toBe(cpus.length);
  });

  it('sends no heartbeat while the server has not accepted it', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    plane.decide = () => ({ ok: false, error: { kind: 'unavailable', message: 'database starting' } });

    const { lines } = startLink(plane.url, key);
    await waitFor(() => plane.connections.length >= 3);

    expect(plane.connections.flatMap((connection) => connection.heartbeats)).toEqual([]);
    expect(lines.join('')).toContain('the server refused the connection (unavailable): database starting; retrying');
  });

  it('reconnects and authenticates again after the server drops it, without replaying heartbeats', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    const { lines } = startLink(plane.url, key);
    await waitFor(() => (plane.connections[0]?.heartbeats.length ?? 0) >= 1);
    plane.challengeDelayMs = 200;

    plane.connections[0]?.socket.disconnect(true);
    await waitFor(() => plane.authenticated.length === 2);
    await waitFor(() => (plane.connections[1]?.heartbeats.length ?? 0) >= 1);

    const second = plane.connections[1];
    expect(second?.heartbeats.every((beat) => beat.at >= (second.authenticatedAt ?? Infinity))).toBe(true);
    expect(lines.join('')).toContain('disconnected from');
  });

  it('keeps trying while the server is down and connects once it is up', async () => {
    const key = HostKey.generate();
    const probe = await FakePlane.start(key.publicKey);
    const url = probe.url;
    const port = Number(new URL(url).port);
    await probe.close();

    const { lines } = startLink(url, key, { connectErrorLogIntervalMs: 60_000 });
    await waitFor(() => lines.filter((line) => line.includes('cannot reach')).length === 1);
    await pause(400);
    const plane = await startPlane(key, port);
    await waitFor(() => plane.authenticated.length === 1);

    expect(lines.filter((line) => line.includes(`cannot reach ${url}`))).toHaveLength(1);
  });

  it('ends as revoked, without reconnecting, when the server revokes the host', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    const { outcome } = startLink(plane.url, key);
    await waitFor(() => plane.authenticated.length === 1);

    plane.connections[0]?.socket.emit('auth.revoked', { kind: 'forbidden', message: 'host web-1 was revoked' });
    plane.connections[0]?.socket.disconnect(true);

    await expect(outcome).resolves.toEqual({
      kind: 'revoked',
      error: { kind: 'forbidden', message: 'host web-1 was revoked' },
    });
    await pause(300);
    expect(plane.connections).toHaveLength(1);
  });

  it.each(['forbidden', 'unauthenticated'] as const)(
    'ends as revoked when the challenge answer is refused as %s',
    async (kind) => {
      const key = HostKey.generate();
      const plane = await startPlane(key);
      plane.decide = () => ({ ok: false, error: { kind, message: 'no such host' } });

      const { outcome } = startLink(plane.url, key);

      await expect(outcome).resolves.toEqual({ kind: 'revoked', error: { kind, message: 'no such host' } });
      await pause(300);
      expect(plane.connections).toHaveLength(1);
    },
  );

  it('ends as revoked when signing with a key the server does not know', async () => {
    const plane = await startPlane(HostKey.generate());

    const { outcome } = startLink(plane.url, HostKey.generate());

    await expect(outcome).resolves.toMatchObject({ kind: 'revoked', error: { kind: 'unauthenticated' } });
  });

  it("hands the server's engine calls and stream frames to its door once authenticated", async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    const door = new RecordingDoor();
    startLink(plane.url, key, { door });
    await waitFor(() => plane.authenticated.length === 1);
    const [connection] = plane.connections;

    connection?.socket.emit('engine.call', CALL);
    connection?.socket.emit('stream.data', 7, Buffer.from('ping'));

    await waitFor(() => (connection?.data.length ?? 0) === 1);
    expect(door.calls).toEqual([CALL]);
    expect(connection?.heads).toEqual([{ stream: 7, status: 200, headers: {}, upgraded: false }]);
    expect(connection?.data).toEqual([[7, 'ping']]);
  });

  it.each([
    ['before the link is authenticated', true, 'the agent has not finished authenticating its link'],
    ['without a door', false, 'this agent serves no Engine API calls'],
  ])('refuses an engine call made %s as unavailable', async (_when, withDoor, message) => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    plane.callBeforeChallenge = withDoor ? CALL : undefined;
    const door = new RecordingDoor();
    startLink(plane.url, key, withDoor ? { door } : {});
    await waitFor(() => plane.authenticated.length === 1);
    if (!withDoor) plane.connections[0]?.socket.emit('engine.call', CALL);

    await waitFor(() => (plane.connections[0]?.resets.length ?? 0) === 1);
    expect(plane.connections[0]?.resets).toEqual([[7, { kind: 'unavailable', message }]]);
    expect(door.calls).toEqual([]);
  });

  it("closes the door's session when the connection drops, and opens a new one on the next", async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    const door = new RecordingDoor();
    startLink(plane.url, key, { door });
    await waitFor(() => plane.authenticated.length === 1);
    const [first] = door.sessions;

    plane.connections[0]?.socket.disconnect(true);
    await waitFor(() => first?.closed.aborted === true);
    first?.emit('stream.data', 3, Buffer.from('stale'));
    await waitFor(() => plane.authenticated.length === 2);
    plane.connections[1]?.socket.emit('stream.data', 4, Buffer.from('fresh'));

    await waitFor(() => (plane.connections[1]?.data.length ?? 0) === 1);
    expect(door.sessions).toHaveLength(2);
    expect(door.sessions[1]?.closed.aborted).toBe(false);
    expect(plane.connections[1]?.data).toEqual([[4, 'fresh']]);
    // Two connections and a reconnect: more than vitest's 5 s when the machine is busy (a CI run
    // next to browser tests once took longer).
  }, 15_000);

  it('closes the socket and ends as stopped when asked to stop', async () => {
    const key = HostKey.generate();
    const plane = await startPlane(key);
    const { outcome, stop } = startLink(plane.url, key);
    await waitFor(() => plane.authenticated.length === 1);

    stop();

    await expect(outcome).resolves.toEqual({ kind: 'stopped' });
    await waitFor(() => plane.connections[0]?.socket.connected === false);
    const beats = plane.connections[0]?.heartbeats.length;
    await pause(100);
    expect(plane.connections[0]?.heartbeats.length).toBe(beats);
  });
});
