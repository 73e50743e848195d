import type { EngineCall } from '@skiff/protocol';
import { StreamResetError } from '@skiff/protocol/link-stream';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { EngineDoor, type EngineDoorOptions } from './engine-door.js';
import { answerHeaders, requestHeaders } from './engine-call-relay.js';
import { DoorLink, readAll } from '../../../test/support/door-link.js';

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  closedEarly: boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/** A tiny HTTP server on a unix socket, standing in for the engine. */
class FakeEngine {
  readonly seen: SeenRequest[] = [];
  readonly routes = new Map<string, Handler>();
  onUpgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  private readonly server: Server;

  constructor(readonly socketPath: string) {
    this.server = createServer((req, res) => {
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.alloc(0),
        closedEarly: false,
      };
      this.seen.push(seen);
      res.once('close', () => {
        if (!res.writableFinished) seen.closedEarly = true;
      });
      const handler = this.routes.get(`${req.method} ${req.url?.split('?')[0]}`);
      if (handler) {
        handler(req, res, seen);
        return;
      }
      void readAll(req).then((body) => {
        seen.body = body;
        res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"page not found"}\n');
      });
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.onUpgrade) this.onUpgrade(req, socket, head);
      else socket.destroy();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.socketPath, resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const GET = { method: 'GET', headers: {}, body: false, upgrade: false } as const;

describe(EngineDoor.name, () => {
  let dir: string;
  let engine: FakeEngine;
  let logLines: string[];
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-door-'));
    engine = new FakeEngine(join(dir, 'engine.sock'));
    await engine.listen();
    logLines = [];
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  function connect(options: Partial<EngineDoorOptions> = {}): DoorLink {
    const door = new EngineDoor({
      socketPath: engine.socketPath,
      logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
      ...options,
    });
    const server = new DoorLink(door);
    cleanups.push(() => server.disconnect());
    return server;
  }

  it('answers a JSON GET with the engine status, headers and body', async () => {
    engine.routes.set('GET /v1.41/containers/json', (_req, res) => {
      res
        .writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': '1.41', 'Content-Length': '15' })
        .end('[{"Id":"abc"}]\n');
    });
    const server = connect();

    const { stream, head } = server.call({ ...GET, path: '/v1.41/containers/json?all=1' });

    expect(await head).toMatchObject({
      stream: 1,
      status: 200,
      upgraded: false,
      headers: { 'Content-Type': 'application/json', 'Api-Version': '1.41', 'Content-Length': '15' },
    });
    expect((await head).headers).not.toHaveProperty('Connection');
    expect(JSON.parse((await readAll(stream)).toString())).toEqual([{ Id: 'abc' }]);
    expect(engine.seen[0]?.url).toBe('/v1.41/containers/json?all=1');
    await waitFor(() => server.table.size === 0);
    expect(server.resetsOf(1)).toEqual([]);
  });

  it('passes a request body and its headers to the engine, but not the headers of the hop', async () => {
    engine.routes.set('POST /v1.41/containers/create', (req, res, seen) => {
      void readAll(req).then((body) => {
        seen.body = body;
        res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"c1","Warnings":[]}\n');
      });
    });
    const server = connect();
    const json = Buffer.from(JSON.stringify({ Image: 'busybox', Cmd: ['echo', 'hi'] }));

    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/containers/create?name=web-1',
      headers: {
        'content-type': 'application/json',
        'content-length': String(json.length),
        'x-registry-auth': 'e30=',
        connection: 'keep-alive, x-hop',
        'x-hop': 'only for the server',
        'proxy-authorization': 'Basic c2VjcmV0',
      },
      body: true,
      upgrade: false,
    });
    stream.end(json);

    expect((await head).status).toBe(201);
    expect(JSON.parse((await readAll(stream)).toString())).toEqual({ Id: 'c1', Warnings: [] });
    const [seen] = engine.seen;
    expect(seen?.body.toString()).toBe(json.toString());
    expect(seen?.headers).toMatchObject({ 'content-type': 'application/json', 'x-registry-auth': 'e30=' });
    expect(seen?.headers).not.toHaveProperty('x-hop');
    expect(seen?.headers).not.toHaveProperty('proxy-authorization');
  });

  it('streams a body of unknown length to the engine chunked', async () => {
    engine.routes.set('PUT /v1.41/containers/web-1/archive', (req, res, seen) => {
      void readAll(req).then((body) => {
        seen.body = body;
        res.writeHead(200, { 'Content-Length': '0' }).end();
      });
    });
    const server = connect();
    const { stream, head } = server.call({
      method: 'PUT',
      path: '/v1.41/containers/web-1/archive?path=/tmp',
      headers: { 'content-type': 'application/x-tar' },
      body: true,
      upgrade: false,
    });
    const tar = Buffer.alloc(3 * 1024 * 1024, 'x');
    stream.end(tar);

    expect((await head).status).toBe(200);
    await readAll(stream);
    expect(engine.seen[0]?.headers['transfer-encoding']).toBe('chunked');
    expect(engine.seen[0]?.body.equals(tar)).toBe(true);
  });

  it('passes on each piece of a streaming answer as the engine sends it', async () => {
    let sendRest: () => void = () => undefined;
    engine.routes.set('GET /v1.41/containers/web-1/logs', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      res.write('first line\n');
      sendRest = () => res.end('second line\n');
    });
    const server = connect();
    const { stream, head } = server.call({ ...GET, path: '/v1.41/containers/web-1/logs?follow=1&stdout=1' });

    const answer = await head;
    expect(answer.headers).not.toHaveProperty('Transfer-Encoding');
    const first = await new Promise<string>((resolve) =>
      stream.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(first).toBe('first line\n');
    const rest = readAll(stream);
    sendRest();
    expect((await rest).toString()).toBe('second line\n');
  });

  it('stalls the engine after a bounded number of bytes when the server stops reading', async () => {
    const total = 100 * 1024 * 1024;
    let written = 0;
    engine.routes.set('GET /v1.41/containers/web-1/export', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      const chunk = Buffer.alloc(64 * 1024, 'y');
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const server = connect();
    const { stream, head } = server.call({ ...GET, path: '/v1.41/containers/web-1/export' });
    await head;

    await pause(500);
    const stalledAt = written;
    await pause(300);
    expect(written).toBe(stalledAt);
    expect(written).toBeLessThan(2 * 1024 * 1024);

    // Reading again lets it flow.
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    await waitFor(() => received > 8 * 1024 * 1024);
    stream.destroy();
    await waitFor(() => engine.seen[0]?.closedEarly === true);
  });

  it('aborts the engine call when the server resets the stream', async () => {
    engine.routes.set('GET /v1.41/containers/web-1/logs', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
      res.write('following\n');
    });
    const server = connect();
    const { stream, head } = server.call({ ...GET, path: '/v1.41/containers/web-1/logs?follow=1' });
    await head;
    await new Promise((resolve) => stream.once('data', resolve));

    stream.destroy();

    await waitFor(() => engine.seen[0]?.closedEarly === true);
  });

  it('aborts every engine call when the link is lost', async () => {
    engine.routes.set('GET /v1.41/events', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"Type":"container"}\n');
    });
    const server = connect();
    const { head } = server.call({ ...GET, path: '/v1.41/events' });
    await head;

    server.disconnect();

    await waitFor(() => engine.seen[0]?.closedEarly === true);
  });

  it('carries an upgraded call as raw bytes both ways, each side half-closing on its own', async () => {
    let engineBody = '';
    engine.onUpgrade = (req, socket, early) => {
      const length = Number(req.headers['content-length']);
      engineBody = early.subarray(0, length).toString();
      socket.write(
        'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n' +
          'Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\n\r\nready\n',
      );
      const rest = early.subarray(length);
      if (rest.length > 0) socket.write(rest.toString().toUpperCase());
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
      socket.once('end', () => socket.end('bye\n'));
    };
    const server = connect();
    const body = '{"Detach":false,"Tty":false}';
    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/exec/e1/start',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      body: true,
      upgrade: true,
    });
    // The body and the first input go together, as from the server's session.
    stream.write(`${body}early `);

    const answer = await head;
    expect(answer).toMatchObject({ status: 101, upgraded: true });
    expect(answer.headers).toMatchObject({
      'Content-Type': 'application/vnd.docker.raw-stream',
      'Api-Version': '1.41',
    });
    expect(answer.headers).not.toHaveProperty('Upgrade');
    const output = readAll(stream);
    await pause(50);
    stream.write('hello\n');
    await pause(50);
    stream.end();

    expect((await output).toString()).toBe('ready\nEARLY HELLO\nbye\n');
    expect(engineBody).toBe(body);
    expect(engine.seen).toEqual([]);
    await waitFor(() => server.table.size === 0);
    expect(server.resetsOf(1)).toEqual([]);
  });

  it('keeps sending input after the engine half-closed an upgraded call', async () => {
    let received = '';
    let engineGotEnd = false;
    engine.onUpgrade = (_req, socket) => {
      socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      socket.end('done\n');
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.once('end', () => (engineGotEnd = true));
    };
    const server = connect();
    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/containers/web-1/attach?stream=1&stdin=1',
      headers: {},
      body: true,
      upgrade: true,
    });
    expect((await head).upgraded).toBe(true);
    expect((await readAll(stream)).toString()).toBe('done\n');

    stream.end('late input\n');

    await waitFor(() => engineGotEnd);
    expect(received).toBe('late input\n');
    await waitFor(() => server.table.size === 0);
    expect(server.resetsOf(1)).toEqual([]);
  });

  it('passes on a refusal of an upgraded call as a plain answer', async () => {
    engine.onUpgrade = (_req, socket) => {
      const body = '{"message":"no such exec instance: e9"}\n';
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    };
    const server = connect();
    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/exec/e9/start',
      headers: { 'content-type': 'application/json', 'content-length': '2' },
      body: true,
      upgrade: true,
    });
    stream.write('{}');

    expect(await head).toMatchObject({ status: 404, upgraded: false });
    const answer = readAll(stream);
    stream.end();
    expect(JSON.parse((await answer).toString())).toEqual({ message: 'no such exec instance: e9' });
    await waitFor(() => server.table.size === 0);
    expect(server.resetsOf(1)).toEqual([]);
  });

  it('ends an answered upload without a reset, dropping the body the engine did not read', async () => {
    engine.routes.set('POST /v1.41/images/load', (_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"message":"not a tar archive"}\n');
    });
    const server = connect();
    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/images/load',
      headers: { 'content-type': 'application/x-tar' },
      body: true,
      upgrade: false,
    });
    stream.write(Buffer.alloc(64 * 1024));

    expect((await head).status).toBe(400);
    expect(JSON.parse((await readAll(stream)).toString())).toEqual({ message: 'not a tar archive' });
    stream.end(Buffer.alloc(2 * 1024 * 1024));

    await waitFor(() => server.table.size === 0);
    expect(server.resetsOf(1)).toEqual([]);
  });

  it('abandons a call whose answer is complete when the server never finishes its side', async () => {
    engine.routes.set('POST /v1.41/images/load', (_req, res) => {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"message":"not a tar archive"}\n');
    });
    const server = connect({ lingerMs: 100 });
    const { stream, head } = server.call({
      method: 'POST',
      path: '/v1.41/images/load',
      headers: {},
      body: true,
      upgrade: false,
    });
    stream.write('not a tar');
    await head;
    await readAll(stream);

    await waitFor(() => server.resetsOf(1).length > 0);
    expect(server.resetsOf(1)).toEqual([null]);
  });

  it('resets the call as unavailable, before any head, when the engine is not running', async () => {
    const server = connect({ socketPath: join(dir, 'missing.sock') });
    const { head } = server.call({ ...GET, path: '/v1.41/_ping' });

    const failure = await head.then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(failure).toBeInstanceOf(StreamResetError);
    expect((failure as StreamResetError).body).toEqual({
      kind: 'unavailable',
      message: `the container engine is not running: cannot connect to ${join(dir, 'missing.sock')} (ENOENT)`,
    });
    expect(server.frames.filter((frame) => frame[0] === 'engine.head')).toEqual([]);
  });

  it('resets the call as unavailable when this agent runs no engine', async () => {
    const server = connect({ socketPath: undefined });
    const { head } = server.call({ ...GET, path: '/v1.41/_ping' });

    await expect(head).rejects.toMatchObject({ body: { kind: 'unavailable', message: expect.stringMatching(/root/) } });
  });

  it('refuses calls beyond its limit with too-many-requests', async () => {
    engine.routes.set('GET /v1.41/events', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('\n');
    });
    const server = connect({ maxCalls: 1 });
    const first = server.call({ ...GET, path: '/v1.41/events' });
    await first.head;

    const second = server.call({ ...GET, path: '/v1.41/_ping' });

    await expect(second.head).rejects.toMatchObject({ body: { kind: 'too-many-requests' } });
    first.stream.destroy();
    await waitFor(() => engine.seen[0]?.closedEarly === true);
    const third = server.call({ ...GET, path: '/v1.41/_ping' });
    expect((await third.head).status).toBe(404);
  });

  it.each([
    ['a method outside the Engine API', { method: 'CONNECT', path: '/v1.41/_ping' }, /method CONNECT/],
    ['a path that is not absolute', { method: 'GET', path: 'http://elsewhere/_ping' }, /path must start/],
    ['a path with a line break', { method: 'GET', path: '/_ping\r\nX: y' }, /path must start/],
    ['a header that is not a string', { method: 'GET', path: '/_ping', headers: { 'x-n': 1 } }, /header x-n/],
    ['a malformed header name', { method: 'GET', path: '/_ping', headers: { 'bad name': 'x' } }, /cannot make/],
  ])('refuses %s as invalid-argument', async (_name, call, message) => {
    const server = connect();
    const { head } = server.call({ ...GET, ...(call as Partial<EngineCall>) } as Omit<EngineCall, 'stream'>);

    await expect(head).rejects.toMatchObject({ body: { kind: 'invalid-argument', message } });
    expect(engine.seen).toEqual([]);
  });
});

describe('engine call headers', () => {
  it('drops hop-by-hop request headers, those the Connection header names, and a length without a body', () => {
    expect(
      requestHeaders(
        { Connection: 'close, X-Trace', 'X-Trace': '1', Host: 'skiff', 'Content-Length': '10', 'X-Registry-Auth': 'a' },
        false,
      ),
    ).toEqual({ 'x-registry-auth': 'a' });
  });

  it('keeps the spelling of answer headers and joins repeated ones', () => {
    expect(
      answerHeaders([
        'Api-Version',
        '1.41',
        'Transfer-Encoding',
        'chunked',
        'Connection',
        'keep-alive',
        'Warning',
        'a',
        'warning',
        'b',
      ]),
    ).toEqual({ 'Api-Version': '1.41', Warning: 'a, b' });
  });
});
