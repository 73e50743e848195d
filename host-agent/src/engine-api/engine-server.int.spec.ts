/**
 * The local door for real: the engine server on a unix socket, driven by the real docker CLI
 * (/usr/local/bin/docker, 28.x) and by raw sockets where the CLI's behaviour must be pinned down
 * byte by byte (the half-close of attach).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, invalidArgument, notFound } from '../engine-error.js';
import { createLogger } from '../logger.js';
import { EventBus } from '../events/event-bus.js';
import { EngineRouter } from './engine-router.js';
import { EngineServer, ENGINE_SOCKET_MODE, removeStaleSocket } from './engine-server.js';
import { demultiplex, encodeFrame } from './stdcopy.js';
import { registerSystemHandlers } from './system-handlers.js';
import { SystemInfo } from './system-info.js';

const DOCKER = '/usr/local/bin/docker';
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => logLines.push(line) });

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the event loop: the server answers from this same process. */
function docker(socketPath: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      DOCKER,
      args,
      { env: { PATH: process.env.PATH ?? '', HOME: dir, DOCKER_HOST: `unix://${socketPath}` }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Sends raw bytes, calls `afterSend` with the socket, and collects everything until the server closes. */
function rawExchange(socketPath: string, request: string, afterSend: (socket: net.Socket) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('connect', () => {
      socket.write(request);
      afterSend(socket);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw exchange timed out')));
  });
}

function splitResponse(bytes: Buffer): { head: string; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no response head in ${JSON.stringify(bytes.toString())}`);
  return { head: bytes.subarray(0, end).toString(), body: bytes.subarray(end + 4) };
}

let dir: string;
let socketPath: string;
let server: EngineServer;
const bus = new EventBus();
const halfClosedAttaches: string[] = [];

beforeAll(async () => {
  expect(existsSync(DOCKER), `the docker CLI is needed at ${DOCKER}`).toBe(true);
  dir = mkdtempSync('/tmp/skiff-engine-api-');
  socketPath = join(dir, 'run', 'docker.sock');

  const router = new EngineRouter();
  registerSystemHandlers(router, {
    system: new SystemInfo({ engineVersion: '0.1.0-test', rootDir: join(dir, 'root') }),
    events: bus,
    logger,
  });
  router.handle('GET /containers/json', (_request, reply) => reply.json(200, []));
  router.handle('POST /containers/create', async (request, reply) => {
    const body = (await request.json()) as { Image?: string } | undefined;
    if (body === undefined) throw invalidArgument('config cannot be empty in order to create a container');
    reply.json(201, { Id: 'f'.repeat(64), Warnings: [], Image: body.Image, Name: request.query.string('name') });
  });
  router.handle('GET /containers/{id}/top', () => {
    throw new Error('EACCES: permission denied, open /var/lib/skiff/containers/x/state.json');
  });
  router.handle('POST /images/create', async (_request, reply) => {
    const progress = reply.jsonLines();
    await progress.write({ status: 'Pulling from library/busybox', id: 'local' });
    throw new EngineError('unavailable', 'registry 127.0.0.1:5000 does not answer');
  });
  // Just enough of a running container for `docker attach`: inspect, then wait for its exit.
  router.handle('GET /containers/{id}/json', (request, reply) => {
    if (request.params.id !== 'cli') throw notFound(`No such container: ${request.params.id}`);
    reply.json(200, {
      Id: 'c1i'.padEnd(64, '0'),
      Name: '/cli',
      State: { Status: 'running', Running: true, Paused: false, Restarting: false, ExitCode: 0 },
      Config: { Tty: false, OpenStdin: false, AttachStdout: true, AttachStderr: true },
    });
  });
  router.handle('POST /containers/{id}/wait', async (_request, reply) => {
    const out = reply.stream(200, 'application/json');
    await new Promise((resolve) => setTimeout(resolve, 200));
    out.write(JSON.stringify({ StatusCode: 0, Error: null }) + '\n');
  });
  // A stand-in attach: waits for the client to half-close, as the CLI does without stdin, then writes.
  router.hijack('POST /containers/{id}/attach', async (request, channel) => {
    if (request.params.id === 'missing') throw notFound('no such container: missing');
    const { socket } = channel.accept();
    if (request.params.id === 'cli') {
      socket.resume();
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.write(encodeFrame('stdout', 'hello from attach\n'));
      socket.write(encodeFrame('stderr', 'warning from attach\n'));
      return;
    }
    socket.resume();
    await once(socket, 'end');
    halfClosedAttaches.push(request.params.id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(encodeFrame('stdout', 'written after the half-close\n'));
    socket.write(encodeFrame('stderr', 'and on stderr\n'));
  });
  // A stand-in exec: echoes its start body and its input, once the input ends.
  router.hijack('POST /exec/{id}/start', async (request, channel) => {
    const start = (await request.json()) as { Detach?: boolean };
    if (start.Detach) {
      channel.reply.empty(200);
      return;
    }
    const { socket } = channel.accept();
    const input: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => input.push(chunk));
    await once(socket, 'end');
    socket.write(encodeFrame('stdout', `body=${JSON.stringify(start)} stdin=${Buffer.concat(input).toString()}`));
  });

  server = new EngineServer({ router, logger, engineVersion: '0.1.0-test', socketPath });
  await server.listen();
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('EngineServer with the docker CLI', () => {
  it('makes the socket root-only (0600) in a directory it created', () => {
    expect(statSync(socketPath).isSocket()).toBe(true);
    expect(statSync(socketPath).mode & 0o777).toBe(ENGINE_SOCKET_MODE);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o755);
  });

  it('docker version prints the server section at API 1.41', async () => {
    const result = await docker(socketPath, ['version']);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Server: Skiff Engine/);
    expect(result.stdout).toMatch(/Server: Skiff Engine[\s\S]*Version:\s+0\.1\.0-test/);
    expect(result.stdout).toMatch(/Server: Skiff Engine[\s\S]*API version:\s+1\.41 \(minimum version 1\.24\)/);
    // The client side reports the negotiated version too.
    expect(result.stdout).toMatch(/API version:\s+1\.41 \(downgraded from 1\.\d+\)/);
  });

  it('docker info succeeds and shows the engine and the host', async () => {
    const result = await docker(socketPath, ['info']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Server Version: 0\.1\.0-test/);
    expect(result.stdout).toMatch(/Storage Driver: overlay2/);
    expect(result.stdout).toMatch(/Cgroup Driver: cgroupfs/);
    expect(result.stdout).toMatch(new RegExp(`Docker Root Dir: ${join(dir, 'root')}`));
    expect(result.stdout).toMatch(/CPUs: \d+/);
  });

  it('docker ps reaches a handler the test registered', async () => {
    const result = await docker(socketPath, ['ps']);

    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND/);
  });

  it('docker attach shows a hijacked, multiplexed stream on stdout and stderr', async () => {
    const result = await docker(socketPath, ['attach', '--no-stdin', 'cli']);

    expect(result.stdout).toBe('hello from attach\n');
    expect(result.stderr).toBe('warning from attach\n');
    expect(result.code).toBe(0);
  });

  it('answers a tabled route without a handler with 501 naming the route', async () => {
    const result = await docker(socketPath, ['start', 'web-1']);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('POST /containers/{id}/start is not implemented by this engine yet');
  });

  it('docker events streams new events live and lets go of a client that leaves', async () => {
    const child = spawn(DOCKER, ['events', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, DOCKER_HOST: `unix://${socketPath}` },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const until = async (condition: () => boolean) => {
      for (let tries = 0; tries < 200 && !condition(); tries += 1) await new Promise((r) => setTimeout(r, 25));
      return condition();
    };

    expect(await until(() => bus.subscriberCount === 1)).toBe(true);
    bus.publish({ type: 'network', action: 'create', id: 'n1', attributes: { name: 'peers_appnet', type: 'bridge' } });
    expect(await until(() => output.includes('\n'))).toBe(true);
    child.kill('SIGTERM');

    expect(output).toBe('network create peers_appnet\n');
    expect(await until(() => bus.subscriberCount === 0)).toBe(true);
  });

  it('docker events replays kept events that pass the filters, then stops at --until', async () => {
    bus.publish({ type: 'volume', action: 'create', id: 'data', attributes: { driver: 'local' } });
    bus.publish({ type: 'container', action: 'start', id: 'c0ffee', attributes: { name: 'web-1', image: 'busybox' } });
    const until = (Date.now() / 1000 + 1).toFixed(3);

    const result = await docker(socketPath, [
      'events',
      '--since',
      '1',
      '--until',
      until,
      '--filter',
      'type=container',
      '--format',
      '{{json .}}',
    ]);

    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ Type: 'container', Action: 'start', status: 'start', from: 'busybox' });
  });
});

describe('EngineServer at the HTTP level', () => {
  it('answers an unknown path with 404 page not found, as dockerd does', async () => {
    const response = await rawExchange(
      socketPath,
      'GET /v1.41/nothing/here HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
      () => {},
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(head).toMatch(/\r\nApi-Version: 1\.41\r\n/i);
    expect(JSON.parse(body.toString())).toEqual({ message: 'page not found' });
  });

  it('refuses a version above the one it announces with 400', async () => {
    const response = await rawExchange(
      socketPath,
      'GET /v1.99/version HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
      () => {},
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(body.toString()) as { message: string }).message).toMatch(/1\.99 is too new.*1\.41/);
  });

  it('answers GET /_ping with OK', async () => {
    const { head, body } = splitResponse(
      await rawExchange(socketPath, 'GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n', () => {}),
    );

    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(body.toString()).toBe('OK');
  });

  it('passes a JSON body to the handler, ignoring fields it does not know', async () => {
    const create = JSON.stringify({ Image: 'busybox:local', ConsoleSize: [30, 100], SomethingNewer: { a: 1 } });
    const { head, body } = splitResponse(
      await rawExchange(
        socketPath,
        `POST /v1.41/containers/create?name=tr-bg HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${create.length}\r\nConnection: close\r\n\r\n${create}`,
        () => {},
      ),
    );

    expect(head).toMatch(/^HTTP\/1\.1 201 Created/);
    expect(JSON.parse(body.toString())).toMatchObject({ Image: 'busybox:local', Name: 'tr-bg' });
  });

  it('answers malformed JSON with 400 before the handler sees it', async () => {
    const { head, body } = splitResponse(
      await rawExchange(
        socketPath,
        'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n' +
          'Content-Length: 9\r\nConnection: close\r\n\r\n{"Image":',
        () => {},
      ),
    );

    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(body.toString()) as { message: string }).message).toMatch(/^malformed JSON in request body/);
  });

  it('answers an unexpected failure with 500 and a correlation id, never the details', async () => {
    const { head, body } = splitResponse(
      await rawExchange(
        socketPath,
        'GET /v1.41/containers/x/top HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
        () => {},
      ),
    );
    const { message } = JSON.parse(body.toString()) as { message: string };

    expect(head).toMatch(/^HTTP\/1\.1 500 /);
    expect(message).toMatch(/^internal error \(correlation id [0-9a-f]+\)$/);
    expect(logLines.join('')).toContain(message.slice('internal error (correlation id '.length, -1));
    expect(logLines.join('')).toContain('/var/lib/skiff/containers/x/state.json');
  });

  it('ends a progress stream that fails half-way with an error line the CLI prints', async () => {
    const result = await docker(socketPath, ['pull', '127.0.0.1:5000/busybox:local']);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('registry 127.0.0.1:5000 does not answer');
  });

  it('refuses an events filter it does not know, naming it', async () => {
    const filters = encodeURIComponent('{"colour":["red"]}');
    const { head, body } = splitResponse(
      await rawExchange(
        socketPath,
        `GET /v1.41/events?filters=${filters} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n`,
        () => {},
      ),
    );

    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(body.toString())).toEqual({ message: "invalid filter 'colour'" });
  });

  it('refuses an upgrade on a route that is not hijacked', async () => {
    const { head } = splitResponse(
      await rawExchange(
        socketPath,
        'GET /v1.41/info HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
        () => {},
      ),
    );

    expect(head).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers HEAD /_ping with the negotiation headers and no body', async () => {
    const response = await rawExchange(
      socketPath,
      'HEAD /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n',
      () => {},
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head).toMatch(/\r\nApi-Version: 1\.41\r\n/i);
    expect(head).toMatch(/\r\nDocker-Experimental: false\r\n/i);
    expect(head).toMatch(/\r\nOstype: linux\r\n/i);
    expect(head).toMatch(/\r\nServer: Skiff\/0\.1\.0-test\r\n/i);
    expect(head).toMatch(/\r\nCache-Control: no-cache, no-store, must-revalidate\r\n/i);
    expect(head).toMatch(/\r\nPragma: no-cache\r\n/i);
    expect(body.length).toBe(0);
  });

  it('keeps writing an upgraded attach after the client half-closes', async () => {
    const response = await rawExchange(
      socketPath,
      'POST /v1.41/containers/half/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n' +
        'Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: text/plain\r\n\r\n',
      (socket) => socket.end(),
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(head).toMatch(/\r\nContent-Type: application\/vnd\.docker\.raw-stream/i);
    expect(head).toMatch(/\r\nConnection: Upgrade/i);
    expect(head).toMatch(/\r\nUpgrade: tcp/i);
    // dockerd sends none on the attach 101, which the traces show.
    expect(head).not.toMatch(/Api-Version/i);
    expect(halfClosedAttaches).toContain('half');
    expect(demultiplex(body)).toEqual({
      stdin: '',
      stdout: 'written after the half-close\n',
      stderr: 'and on stderr\n',
    });
  });

  it('refuses an attach before taking the connection: a JSON 404 and a close', async () => {
    const response = await rawExchange(
      socketPath,
      'POST /v1.41/containers/missing/attach?stream=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n' +
        'Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
      () => {},
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(JSON.parse(body.toString())).toEqual({ message: 'no such container: missing' });
  });

  it('reads the exec start body and hands the bytes after it to the handler as input', async () => {
    const start = '{"Detach":false,"Tty":false}';
    const response = await rawExchange(
      socketPath,
      `POST /v1.41/exec/e1/start HTTP/1.1\r\nHost: d\r\nContent-Length: ${start.length}\r\n` +
        `Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n\r\n${start}hello`,
      (socket) => setTimeout(() => socket.end(' world'), 20),
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(head).toMatch(/\r\nApi-Version: 1\.41/i);
    expect(demultiplex(body).stdout).toBe(`body=${start} stdin=hello world`);
  });

  it('lets a hijack handler answer without taking the connection (exec start with Detach)', async () => {
    const start = '{"Detach":true,"Tty":false}';
    const response = await rawExchange(
      socketPath,
      `POST /v1.41/exec/e2/start HTTP/1.1\r\nHost: d\r\nContent-Length: ${start.length}\r\n` +
        `Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n${start}`,
      () => {},
    );

    expect(splitResponse(response).head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('serves attach without Upgrade as a plain 200 raw stream, output only', async () => {
    const { status, contentType, body } = await new Promise<{ status: number; contentType: string; body: Buffer }>(
      (resolve, reject) => {
        const request = http.request(
          { socketPath, method: 'POST', path: '/v1.41/containers/plain/attach?stream=1&stdout=1' },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                contentType: String(response.headers['content-type']),
                body: Buffer.concat(chunks),
              }),
            );
          },
        );
        request.on('error', reject);
        request.end();
      },
    );

    expect(status).toBe(200);
    expect(contentType).toBe('application/vnd.docker.raw-stream');
    expect(demultiplex(body).stdout).toBe('written after the half-close\n');
  });
});

describe('EngineServer with a plain (non-upgraded) attach', () => {
  it('keeps streaming when the client sends input and half-closes', async () => {
    const response = await rawExchange(
      socketPath,
      'POST /v1.41/containers/plain/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n',
      (socket) => setTimeout(() => socket.end('typed input that is not HTTP\r\n\r\n'), 10),
    );
    const { head, body } = splitResponse(response);

    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).not.toMatch(/Transfer-Encoding/i);
    expect(demultiplex(body).stdout).toBe('written after the half-close\n');
  });
});

describe(removeStaleSocket.name, () => {
  it('removes a socket file that nobody listens on', async () => {
    const stale = join(dir, 'stale.sock');
    // A bound but never listening socket, as a killed engine leaves behind.
    const made = spawnSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`,
    ]);
    expect(made.status).toBe(0);
    expect(statSync(stale).isSocket()).toBe(true);

    await removeStaleSocket(stale);

    expect(existsSync(stale)).toBe(false);
  });

  it('refuses to take the place of an engine that answers', async () => {
    await expect(removeStaleSocket(socketPath)).rejects.toThrow(/another engine is answering/);
    expect(existsSync(socketPath)).toBe(true);
  });
});
