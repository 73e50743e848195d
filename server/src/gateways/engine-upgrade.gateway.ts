import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { HTTP_STATUS_OF_ERROR_KIND, type ErrorBody } from '@skiff/protocol';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { SESSION_COOKIE } from '../auth/request-context.js';
import { DomainError, forbidden, invalidArgument, unauthenticated } from '../errors/domain-error.js';
import type { Actor, RequestOrigin } from '../services/actor.js';
import { AuthService } from '../services/auth.service.js';
import { answerHeaders } from '../services/engine-call-pipe.js';
import { EngineProxyService } from '../services/engine-proxy.service.js';
import { EngineSessionService } from '../services/engine-session.service.js';
import { cookieValue } from './console.gateway.js';

const UPGRADE_PATH = /^\/api\/hosts\/([^/?]+)\/engine(\/[^?]*)(\?.*)?$/;

/** A JSON body of an attach or exec start is a few hundred bytes; a megabyte is plenty. */
const MAX_UPGRADE_BODY_BYTES = 1024 * 1024;

/**
 * Attach and exec start through the server, the way the docker CLI makes them: a POST with
 * `Upgrade: tcp` whose connection becomes a raw two-way stream (stdin in, output out) once the
 * engine answers `101 UPGRADED`. Node hands such requests to the HTTP server's `upgrade` event,
 * not to the REST routes, so this listener authenticates and authorises them itself with the
 * same rules, then splices the connection to a stream on the agent's link.
 */
@Injectable()
export class EngineUpgradeGateway implements OnApplicationBootstrap {
  private readonly logger = new Logger('engine-upgrade');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly proxy: EngineProxyService,
    private readonly sessions: EngineSessionService,
  ) {}

  onApplicationBootstrap(): void {
    // A command-line run (`skiff-server join-token create`) has no HTTP server to listen on.
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) return;
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const found = UPGRADE_PATH.exec(request.url ?? '');
      if (!found) return; // Socket.IO's, or nobody's.
      socket.on('error', (error) => this.logger.debug(`upgrade connection: ${error.message}`));
      this.serve(request, socket, head, found[1], `${found[2]}${found[3] ?? ''}`).catch((error: unknown) => {
        if (socket.writable && !(socket as Duplex & { upgradeAnswered?: boolean }).upgradeAnswered) {
          writeError(socket, error, this.logger);
        } else {
          socket.destroy();
        }
      });
    });
  }

  private async serve(request: IncomingMessage, socket: Duplex, head: Buffer, hostId: string, enginePath: string) {
    const origin: RequestOrigin = {
      address: request.socket.remoteAddress ?? null,
      userAgent: header(request, 'user-agent') ?? null,
    };
    const actor = await this.authenticate(request);
    const { body, rest } = await readBody(request, socket, head);
    let parsed: unknown;
    if (body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw invalidArgument('the request body is not valid JSON');
      }
    }
    const call = await this.proxy.authorise({ actor, origin }, hostId, request.method ?? 'POST', enginePath, parsed);
    if (call.match.route.stream !== 'hijack') {
      throw invalidArgument(`${call.match.route.key} does not take over the connection: send it without Upgrade`);
    }
    await this.sessions.run(call, {
      body,
      contentType: header(request, 'content-type') ?? 'application/json',
      client: socket,
      early: rest,
      answer: (answer, upgraded) => {
        (socket as Duplex & { upgradeAnswered?: boolean }).upgradeAnswered = true;
        const lines = [
          upgraded ? 'HTTP/1.1 101 UPGRADED' : `HTTP/1.1 ${answer.status} ${answer.status < 400 ? 'OK' : 'Error'}`,
          ...Object.entries(answerHeaders(answer)).map(([name, value]) => `${name}: ${value}`),
          ...(upgraded ? ['Connection: Upgrade', 'Upgrade: tcp'] : ['Connection: close']),
        ];
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      },
    });
  }

  private async authenticate(request: IncomingMessage): Promise<Actor> {
    const authorization = header(request, 'authorization');
    if (authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw unauthenticated('the Authorization header must be "Bearer <API token>"');
      return this.auth.resolveApiToken(match[1]);
    }
    const token = cookieValue(header(request, 'cookie'), SESSION_COOKIE);
    if (!token) throw unauthenticated('sign in first, or send an API token as "Authorization: Bearer <token>"');
    const session = await this.auth.resolveSession(token);
    if (!session) throw unauthenticated('your session has expired; sign in again');
    if (!this.auth.csrfMatches(session.csrfToken, header(request, 'x-csrf-token'))) {
      throw forbidden('missing or wrong X-CSRF-Token header for this session');
    }
    return session.actor;
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The request's JSON body (Content-Length bytes) and whatever the client sent after it (early stdin). */
async function readBody(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<{ body: Buffer; rest: Buffer }> {
  if (request.headers['transfer-encoding'] !== undefined) {
    throw invalidArgument('a chunked request body cannot be upgraded: send Content-Length');
  }
  const length = Number(request.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument('invalid Content-Length');
  if (length > MAX_UPGRADE_BODY_BYTES)
    throw invalidArgument(`the request body is over ${MAX_UPGRADE_BODY_BYTES} bytes`);
  let buffered = head;
  while (buffered.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve, reject) => {
      const onData = (data: Buffer) => done(data);
      const onEnd = () => done(null);
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', onError);
      };
      const done = (data: Buffer | null) => {
        cleanup();
        socket.pause();
        resolve(data);
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('error', onError);
      socket.resume();
    });
    if (chunk === null) throw invalidArgument('the connection closed before the request body was complete');
    buffered = Buffer.concat([buffered, chunk]);
  }
  return { body: buffered.subarray(0, length), rest: buffered.subarray(length) };
}

function writeError(socket: Duplex, error: unknown, logger: Logger): void {
  let body: ErrorBody;
  if (error instanceof DomainError) body = { kind: error.kind, message: error.message };
  else {
    // As the REST filter does: the details go to the log under an id, never to the caller.
    const correlationId = randomUUID();
    logger.error(`engine upgrade failed (${correlationId})`, error instanceof Error ? error.stack : String(error));
    body = { kind: 'internal', message: `internal error; the server logged it as ${correlationId}`, correlationId };
  }
  const status = HTTP_STATUS_OF_ERROR_KIND[body.kind];
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
