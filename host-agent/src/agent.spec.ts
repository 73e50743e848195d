import {
  AGENT_NAMESPACE,
  ENROL_PATH,
  challengePayload,
  enrolmentPayload,
  type AgentToServerEvents,
  type AuthResult,
  type EngineCallHead,
  type EnrolRequest,
  type ErrorBody,
  type ServerToAgentEvents,
} from '@skiff/protocol';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, type Socket } from 'socket.io';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEngine } from './engine/engine.js';
import { runAgent, type AgentOptions } from './agent.js';
import { ExitCode } from './exit-code.js';
import { createLogger } from './logger.js';
import { Backoff } from './plane/backoff.js';

function verifiesWith(publicKey: string, payload: Buffer, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  return verify(null, payload, key, Buffer.from(signature, 'base64'));
}

/** Enough of a Skiff server for the agent: the enrolment endpoint and the challenge on /agents. */
class FakeServer {
  readonly enrolments: EnrolRequest[] = [];
  readonly hosts = new Map<string, { name: string; publicKey: string }>();
  readonly authenticated: string[] = [];
  enrolAnswer: { status: number; body: unknown } | undefined;
  revokeOnConnect = false;
  /** What agents answered to engine calls, by stream number. */
  readonly heads = new Map<number, EngineCallHead>();
  readonly resets = new Map<number, ErrorBody | null>();
  readonly bodies = new Map<number, string>();
  private readonly sockets: Array<Socket<AgentToServerEvents, ServerToAgentEvents>> = [];

  private readonly http: HttpServer;
  private readonly io: Server<AgentToServerEvents, ServerToAgentEvents>;

  constructor() {
    this.http = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const answer =
          request.method === 'POST' && request.url === ENROL_PATH ? this.enrol(body) : { status: 404, body: {} };
        response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    this.io = new Server(this.http, { transports: ['websocket'] });
    this.io.of(AGENT_NAMESPACE).on('connection', (socket) => {
      const nonce = randomBytes(16).toString('base64url');
      socket.on('engine.head', (head) => this.heads.set(head.stream, head));
      socket.on('stream.reset', (id, error) => this.resets.set(id, error));
      socket.on('stream.data', (id, chunk) =>
        this.bodies.set(id, (this.bodies.get(id) ?? '') + Buffer.from(chunk).toString()),
      );
      socket.on('auth.response', (response, ack) => {
        const host = this.hosts.get(response.hostId);
        const valid =
          host !== undefined &&
          verifiesWith(host.publicKey, challengePayload(nonce, response.hostId), response.signature);
        const result: AuthResult = valid
          ? { ok: true, hostId: response.hostId, name: host.name }
          : { ok: false, error: { kind: 'unauthenticated', message: 'unknown host or bad signature' } };
        ack(result);
        if (!valid) return;
        this.authenticated.push(response.hostId);
        this.sockets.push(socket);
        if (this.revokeOnConnect) {
          socket.emit('auth.revoked', { kind: 'forbidden', message: `host ${host.name} was revoked` });
          socket.disconnect(true);
        }
      });
      socket.emit('auth.challenge', { nonce });
    });
  }

  /** Asks the last authenticated agent for an Engine API GET on stream `stream`. */
  callEngine(stream: number, path: string): void {
    this.sockets.at(-1)?.emit('engine.call', { stream, method: 'GET', path, headers: {}, body: false, upgrade: false });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await this.io.close();
  }

  private enrol(text: string): { status: number; body: unknown } {
    const request = JSON.parse(text) as EnrolRequest;
    this.enrolments.push(request);
    if (this.enrolAnswer) return this.enrolAnswer;
    if (!verifiesWith(request.publicKey, enrolmentPayload(request.joinToken, request.publicKey), request.signature)) {
      return { status: 401, body: { kind: 'unauthenticated', message: 'bad enrolment signature' } };
    }
    const hostId = `host-${this.hosts.size + 1}`;
    this.hosts.set(hostId, { name: request.name, publicKey: request.publicKey });
    return { status: 201, body: { hostId, name: request.name } };
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('runAgent', () => {
  let root: string;
  let server: FakeServer;
  let serverUrl: string;
  let lines: string[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-agent-'));
    server = new FakeServer();
    serverUrl = await server.listen();
    lines = [];
  });
  afterEach(async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  });

  const identityPath = (): string => join(root, 'plane', 'identity.json');
  const engineSocket = (): string => join(root, 'engine.sock');
  const output = (): string => lines.join('');

  function start(options: Partial<AgentOptions>): { exit: Promise<ExitCode>; stop: () => void } {
    const controller = new AbortController();
    const exit = runAgent(
      { server: serverUrl, root, socket: join(root, 'docker.sock'), ...options },
      {
        logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
        signal: controller.signal,
        enrolment: { backoff: new Backoff({ initialDelayMs: 10, maxDelayMs: 50, randomization: 0 }) },
        link: { heartbeatIntervalMs: 50, reconnect: { initialDelayMs: 20, maxDelayMs: 100, randomization: 0 } },
        // The link is under test here; the engine has tests of its own. Its socket is whatever listens there.
        startEngine: () =>
          Promise.resolve({ socketPath: engineSocket(), close: () => Promise.resolve() } as unknown as RunningEngine),
      },
    );
    return { exit, stop: () => controller.abort() };
  }

  it('enrols on the first start, stores the host id and connects with the same key', async () => {
    const agent = start({ joinToken: 'skj_1', name: 'web-1' });
    await waitFor(() => output().includes('info  connected to'));
    agent.stop();

    expect(await agent.exit).toBe(ExitCode.Ok);
    expect(server.enrolments).toMatchObject([{ joinToken: 'skj_1', name: 'web-1' }]);
    const stored = JSON.parse(await readFile(identityPath(), 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ hostId: 'host-1', hostName: 'web-1', server: serverUrl });
    expect(stored['publicKey']).toBe(server.enrolments[0]?.publicKey);
    expect(output()).toContain(`connected to ${serverUrl} as host web-1 (host-1)`);
  });

  it('does not enrol again once enrolled, and says the join token is not used', async () => {
    const first = start({ joinToken: 'skj_1', name: 'web-1' });
    await waitFor(() => server.authenticated.length === 1);
    first.stop();
    await first.exit;

    const second = start({ joinToken: 'skj_2' });
    await waitFor(() => server.authenticated.length === 2);
    second.stop();

    expect(await second.exit).toBe(ExitCode.Ok);
    expect(server.enrolments).toHaveLength(1);
    expect(output()).toContain('this host is already enrolled as web-1 (host-1); the join token is not used');
  });

  it("exits 1 with the server's reason when the enrolment is refused", async () => {
    server.enrolAnswer = { status: 401, body: { kind: 'unauthenticated', message: 'join token already used' } };

    expect(await start({ joinToken: 'skj_used' }).exit).toBe(ExitCode.Failure);

    expect(output()).toContain('error enrolment refused: join token already used');
    expect(server.enrolments).toHaveLength(1);
    const stored = JSON.parse(await readFile(identityPath(), 'utf8')) as Record<string, unknown>;
    expect(stored['hostId']).toBeUndefined();
  });

  it('exits 2 when the host is not enrolled and no join token is given', async () => {
    expect(await start({}).exit).toBe(ExitCode.Usage);

    expect(output()).toContain(
      'this host is not enrolled yet: give a join token with --join-token or SKIFF_JOIN_TOKEN',
    );
    expect(server.enrolments).toHaveLength(0);
  });

  it('exits 3 and tells how to enrol again when the server revokes the host', async () => {
    server.revokeOnConnect = true;

    expect(await start({ joinToken: 'skj_1', name: 'web-1' }).exit).toBe(ExitCode.Revoked);

    expect(output()).toContain('host web-1 was revoked');
    expect(output()).toContain(
      `this host was revoked on the server; enrol it again with a new join token after removing ${identityPath()}`,
    );
  });

  it('exits 1 naming the file when the stored identity is damaged', async () => {
    await mkdir(join(root, 'plane'), { recursive: true });
    await writeFile(identityPath(), 'not json');

    expect(await start({ joinToken: 'skj_1' }).exit).toBe(ExitCode.Failure);

    expect(output()).toContain(`cannot use plane identity ${identityPath()}: it is not valid JSON`);
  });

  const asRoot = process.getuid?.() === 0;

  it.runIf(asRoot)("answers the server's engine calls from the engine's socket once connected", async () => {
    const engine = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' }).end('OK');
    });
    await new Promise<void>((resolve) => engine.listen(engineSocket(), resolve));
    const agent = start({ joinToken: 'skj_1' });
    try {
      await waitFor(() => server.authenticated.length === 1);

      server.callEngine(1, '/v1.41/_ping');

      await waitFor(() => server.bodies.get(1) === 'OK');
      expect(server.heads.get(1)).toMatchObject({ stream: 1, status: 200, upgraded: false });
    } finally {
      agent.stop();
      await agent.exit;
      await new Promise((resolve) => engine.close(resolve));
    }
  });

  it.runIf(!asRoot)("refuses the server's engine calls as unavailable when it runs no engine", async () => {
    const agent = start({ joinToken: 'skj_1' });
    await waitFor(() => server.authenticated.length === 1);

    server.callEngine(1, '/v1.41/_ping');

    await waitFor(() => server.resets.has(1));
    expect(server.resets.get(1)).toMatchObject({
      kind: 'unavailable',
      message: expect.stringMatching(/not running as root/),
    });
    agent.stop();
    expect(await agent.exit).toBe(ExitCode.Ok);
  });

  it('stops with 0 while still waiting for the server to accept the enrolment', async () => {
    server.enrolAnswer = { status: 503, body: { kind: 'unavailable', message: 'starting' } };
    const agent = start({ joinToken: 'skj_1' });
    await waitFor(() => server.enrolments.length >= 2);

    agent.stop();

    expect(await agent.exit).toBe(ExitCode.Ok);
  });
});
