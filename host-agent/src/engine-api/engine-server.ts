import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { matchEngineRoute, type EngineRouteMatch } from '@skiff/protocol';
import { invalidArgument, notFound, unavailable } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { API_VERSION, negotiateApiVersion } from './api-version.js';
import { EngineQuery } from './engine-query.js';
import type {
  EngineHijackHandler,
  EngineRequest,
  EngineRouter,
  HijackChannel,
  HijackedStream,
  TabledEngineRoute,
} from './engine-router.js';
import { errorAnswer } from './error-status.js';
import { acceptPlain, acceptUpgraded, readUpgradeBody } from './hijack.js';
import { head, HttpEngineReply, RawSocketReply, type HeaderList } from './http-reply.js';
import { progressError } from './json-lines-writer.js';
import { MAX_JSON_BODY_BYTES, parseJsonBody, readBody } from './request-body.js';

/** The local door: where the docker CLI finds the engine (`DOCKER_HOST=unix:///run/skiff/docker.sock`). */
export const DEFAULT_ENGINE_SOCKET = '/run/skiff/docker.sock';

/** The socket is root's alone: whoever can write to it can run anything on the host. */
export const ENGINE_SOCKET_MODE = 0o600;

export interface EngineServerOptions {
  router: EngineRouter;
  logger: Logger;
  /** The agent's version, for the `Server` header. */
  engineVersion: string;
  socketPath?: string;
  /** Told of every call as it arrives (the idle memory trim). */
  onActivity?: () => void;
}

type HttpServerWithHalfOpen = http.Server & { httpAllowHalfOpen: boolean };

/** dockerd sends no Api-Version on the attach 101 (it hijacks before its headers are copied); exec start has it. */
const ROUTES_WITHOUT_HEADERS_ON_UPGRADE: ReadonlySet<string> = new Set(['POST /containers/{id}/attach']);

/**
 * The Docker Engine API on a unix socket: routes calls through the route table to the handlers of
 * an EngineRouter, answers paths outside the table with 404 and tabled routes without a handler
 * with 501, checks the API version, maps errors to statuses, and hands attach and exec-start
 * connections over raw.
 */
export class EngineServer {
  readonly socketPath: string;
  private readonly server: HttpServerWithHalfOpen;
  private readonly router: EngineRouter;
  private readonly logger: Logger;
  private readonly baseHeaders: HeaderList;
  private readonly hijacked = new Set<Duplex>();
  /** Connections carrying a plain (non-upgraded) raw stream: what the client sends on them is not HTTP. */
  private readonly plainHijacked = new WeakSet<Duplex>();

  constructor(options: EngineServerOptions) {
    this.socketPath = options.socketPath ?? DEFAULT_ENGINE_SOCKET;
    this.router = options.router;
    this.logger = options.logger;
    this.baseHeaders = [
      ['Api-Version', API_VERSION],
      ['Server', `Skiff/${options.engineVersion}`],
      ['Ostype', 'linux'],
    ];
    this.server = http.createServer({
      // A `docker load` of a large image or a long build upload may take more than Node's 5 minutes.
      requestTimeout: 0,
      // X-Registry-Config of `docker build` carries every configured registry's credentials.
      maxHeaderSize: 256 * 1024,
    }) as HttpServerWithHalfOpen;
    // Node ends a connection as soon as the client half-closes it, dropping the answer in flight.
    // With this set it finishes the answer first: a plain (non-upgraded) attach keeps streaming.
    // Every other call treats the EOF as the client leaving (see onRequest).
    this.server.httpAllowHalfOpen = true;
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      options.onActivity?.();
      void this.onRequest(req, res).catch((error: unknown) => this.logger.error(`engine api: ${errorMessage(error)}`));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      options.onActivity?.();
      void this.onUpgrade(req, socket, head).catch((error: unknown) => {
        this.logger.error(`engine api: ${errorMessage(error)}`);
        socket.destroy();
      });
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(error, socket));
  }

  /**
   * Creates the socket's directory (0755) if missing, removes a stale socket that nobody answers
   * on, listens, and makes the socket 0600.
   */
  async listen(): Promise<void> {
    await mkdir(dirname(this.socketPath), { recursive: true, mode: 0o755 });
    await removeStaleSocket(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.socketPath, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    // bind(2) made the socket with the umask's mode: under the usual 022 (0755) no one else can
    // connect before this chmod, since connecting needs write permission; a looser umask would
    // leave a moment's window.
    await chmod(this.socketPath, ENGINE_SOCKET_MODE);
    this.server.on('error', (error) => this.logger.error(`engine api: ${errorMessage(error)}`));
    this.logger.info(`engine api listening on ${this.socketPath}`);
  }

  /** Stops listening and cuts every connection, streams and hijacked ones included. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.hijacked) socket.destroy();
    await closed;
    await unlink(this.socketPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    for (const [name, value] of this.baseHeaders) res.setHeader(name, value);
    res.on('close', () => this.logger.debug(`${method} ${url} ${res.statusCode} ${Date.now() - started}ms`));

    const reply = new HttpEngineReply(res);
    const aborted = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    let hijacked = false;
    // With httpAllowHalfOpen, Node no longer treats the client's EOF as leaving, so a client that
    // hangs up on `docker events` or `logs -f` would hold its stream until the next write fails.
    // EOF means leaving for every call but a plain raw stream, as it does for dockerd.
    const socket = req.socket;
    const onClientEnd = () => {
      if (!hijacked) aborted.abort();
    };
    if (socket.readableEnded) {
      onClientEnd();
    } else {
      socket.once('end', onClientEnd);
      res.once('close', () => socket.off('end', onClientEnd));
    }
    const context = `${method} ${url}`;
    try {
      const resolved = this.resolve(method, url);
      if (resolved.kind === 'not-implemented') {
        reply.json(501, { message: resolved.message });
        return;
      }
      const request = this.request(resolved.match, resolved.apiVersion, req, aborted.signal, {
        body: req,
        json: async () => parseJsonBody(await readBody(req, MAX_JSON_BODY_BYTES)),
      });
      if (resolved.entry.kind === 'plain') {
        await resolved.entry.handler(request, reply);
      } else {
        const channel: HijackChannel = {
          accept: () => {
            if (reply.sent) throw new Error('engine api: a hijack was accepted after an answer');
            hijacked = true;
            this.plainHijacked.add(req.socket);
            return acceptPlain(res);
          },
          reply,
        };
        await (resolved.entry.handler as EngineHijackHandler)(request, channel);
      }
      if (hijacked || reply.answerState === 'stream' || reply.answerState === 'json-lines') {
        if (!res.writableEnded && !res.destroyed) res.end();
      } else if (!reply.sent) {
        throw new Error(`the handler of ${resolved.match.route.key} returned without answering`);
      }
    } catch (error) {
      this.failRequest(error, reply, res, hijacked, context);
    }
  }

  /** Tells the client about a failure as well as the state of the answer allows. */
  private failRequest(error: unknown, reply: HttpEngineReply, res: ServerResponse, hijacked: boolean, context: string) {
    if (!reply.sent && !hijacked) {
      const answer = errorAnswer(error, this.logger, context);
      reply.json(answer.status, answer.body);
      return;
    }
    const writer = reply.jsonLinesWriter;
    if (writer !== undefined && !writer.closed) {
      // A progress stream (pull, build, …) reports a late failure in its own format.
      const { body } = errorAnswer(error, this.logger, context);
      writer.offer(progressError(body.message));
      writer.end();
      return;
    }
    this.logger.warn(`${context}: failed after the answer started: ${errorMessage(error)}`);
    res.destroy();
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const context = `${method} ${url} (upgrade)`;
    const reply = new RawSocketReply(socket, this.baseHeaders);
    this.hijacked.add(socket);
    const aborted = new AbortController();
    socket.once('close', () => {
      this.hijacked.delete(socket);
      aborted.abort();
    });
    socket.on('error', (error) => this.logger.debug(`${context}: ${errorMessage(error)}`));

    let accepted: HijackedStream | undefined;
    try {
      const resolved = this.resolve(method, url);
      if (resolved.kind === 'not-implemented') {
        reply.json(501, { message: resolved.message });
        return;
      }
      const { match, entry } = resolved;
      if (entry.kind !== 'hijack') {
        throw invalidArgument(`${match.route.key} does not take over the connection: send it without Upgrade`);
      }
      if (req.headers['transfer-encoding'] !== undefined) {
        throw invalidArgument('a chunked request body cannot be upgraded: send Content-Length');
      }
      const length = Number(req.headers['content-length'] ?? 0);
      if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument('invalid Content-Length');
      const { body, rest } = await readUpgradeBody(socket, head, length, MAX_JSON_BODY_BYTES);
      const request = this.request(match, resolved.apiVersion, req, aborted.signal, {
        body: Readable.from([body]),
        json: () => Promise.resolve(parseJsonBody(body)),
      });
      const headers = ROUTES_WITHOUT_HEADERS_ON_UPGRADE.has(match.route.key) ? [] : this.baseHeaders;
      const channel: HijackChannel = {
        accept: () => {
          if (reply.sent || accepted) throw new Error('engine api: a hijack was accepted twice or after an answer');
          accepted = acceptUpgraded(socket, rest, headers);
          return accepted;
        },
        reply,
      };
      await (entry.handler as EngineHijackHandler)(request, channel);
      if (accepted) {
        // The stream is over when the handler says so, not when the client half-closes.
        if (!socket.destroyed) socket.end();
      } else if (!reply.sent) {
        throw new Error(`the handler of ${match.route.key} returned without answering`);
      }
    } catch (error) {
      if (!accepted && !reply.sent) {
        const answer = errorAnswer(error, this.logger, context);
        reply.json(answer.status, answer.body);
      } else {
        this.logger.warn(`${context}: failed after the connection was taken over: ${errorMessage(error)}`);
        socket.destroy();
      }
    }
  }

  /**
   * The route, version and handler of a call. Throws not-found (404 `page not found`, dockerd's
   * words) for a path outside the table and invalid-argument for an unsupported version.
   */
  private resolve(
    method: string,
    url: string,
  ):
    | {
        kind: 'found';
        match: EngineRouteMatch;
        apiVersion: string;
        entry: NonNullable<ReturnType<EngineRouter['lookup']>>;
      }
    | { kind: 'not-implemented'; message: string } {
    const match = matchEngineRoute(method, url);
    if (match === null) throw notFound('page not found');
    const apiVersion = negotiateApiVersion(match.apiVersion);
    const entry = this.router.lookup(match.route.key);
    if (entry === undefined) {
      return { kind: 'not-implemented', message: `${match.route.key} is not implemented by this engine yet` };
    }
    return { kind: 'found', match, apiVersion, entry };
  }

  private request(
    match: EngineRouteMatch,
    apiVersion: string,
    req: IncomingMessage,
    signal: AbortSignal,
    body: { body: Readable; json: () => Promise<unknown> },
  ): EngineRequest {
    let consumed = false;
    const route: TabledEngineRoute = match.route;
    return {
      route,
      params: match.params as EngineRequest['params'],
      query: EngineQuery.fromUrl(req.url ?? ''),
      apiVersion,
      header: (name) => {
        const value = req.headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value;
      },
      body: body.body,
      json: () => {
        if (consumed) return Promise.reject(new Error('engine api: the request body was already read'));
        consumed = true;
        return body.json();
      },
      signal,
    };
  }

  private onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    // Input on a plain raw stream fails Node's HTTP parser; it is ignored and the output goes on.
    if (this.plainHijacked.has(socket)) return;
    // A client that went away mid-request needs no answer.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ message: `bad request: ${error.code ?? 'malformed HTTP'}` });
    const headers: HeaderList = [
      ...this.baseHeaders,
      ['Content-Type', 'application/json'],
      ['Content-Length', String(Buffer.byteLength(body))],
      ['Connection', 'close'],
    ];
    socket.end(head(status, headers) + body);
  }
}

/**
 * A socket file left by an engine that died is removed; one that still answers means another
 * engine runs, and this one must not take its place. Anything but a socket is left alone.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!isSocket) throw unavailable(`cannot listen on ${path}: it exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve, reject) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(false);
      else reject(error);
    });
  });
  if (answered) throw unavailable(`cannot listen on ${path}: another engine is answering on it`);
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
