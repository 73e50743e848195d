import type { EngineCall, EngineCallHead } from '@skiff/protocol';
import type { LinkStream } from '@skiff/protocol/link-stream';
import {
  type Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { createConnection } from 'node:net';
import { finished, type Duplex } from 'node:stream';
import { EngineError, invalidArgument, unavailable } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';

/** Headers of one connection (RFC 9110 §7.6.1), never passed across a hop. `host` names the server's own. */
const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** An attach or exec start body is a small JSON document; the engine itself allows no more. */
export const MAX_UPGRADE_BODY_BYTES = 10 * 1024 * 1024;

export interface EngineCallRelayOptions {
  /** The engine's own Engine API socket. */
  socketPath: string;
  /** Keeps connections to that socket for the next plain call (upgraded calls get their own). */
  agent?: HttpAgent;
  /** Sends the answer's head to the server, before any byte of its body. */
  sendHead: (head: EngineCallHead) => void;
  /**
   * How long a call whose answer is complete waits for the server to finish its side (request
   * body bytes the engine no longer reads, stdin after the session ended) before it is abandoned.
   */
  lingerMs: number;
  logger: Logger;
}

/**
 * Makes one Engine API call of the server on the engine's own socket, as the docker CLI would,
 * so every route, version check, error and hijack behaves the same through both doors. The
 * request body flows from the link stream into the call and the answer back into the stream,
 * each no faster than its reader takes it; an upgraded call (attach, exec start) becomes raw
 * bytes both ways, each way closing on its own.
 *
 * The stream's close ends the call: a reset from the server destroys the local connection (the
 * engine sees the client leave and stops following logs), and a local failure resets the stream,
 * as `unavailable` before the head and with the reason after it.
 */
export class EngineCallRelay {
  private readonly label: string;
  private request: ClientRequest | undefined;
  /** The raw connection once the engine upgraded it. */
  private upgraded: Duplex | undefined;
  private headSent = false;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly call: EngineCall,
    private readonly stream: LinkStream,
    private readonly options: EngineCallRelayOptions,
  ) {
    this.label = `${call.method} ${call.path}`;
  }

  start(): void {
    const { stream, call } = this;
    stream.on('error', (error) => this.options.logger.debug(`plane call ${this.label}: ${errorMessage(error)}`));
    stream.once('close', () => this.onStreamClose());
    stream.once('finish', () => this.onAnswered());
    // Without a body the server may still end its side, or may not: its request is complete either way.
    if (!call.body) stream.receiveEnd();
    if (call.upgrade) {
      this.startUpgrade().catch((error: unknown) => this.fail(error));
    } else {
      this.startPlain();
    }
  }

  private startPlain(): void {
    const { stream, call } = this;
    const request = this.open({});
    if (!request) return;
    request.on('response', (res) => this.answer(res));
    if (call.body) {
      stream.pipe(request);
    } else {
      stream.resume();
      request.end();
    }
  }

  /**
   * The server sends an upgraded call's JSON body and then, on the same stream, the session's
   * input: the body is `Content-Length` bytes, as on a connection of the docker CLI.
   */
  private async startUpgrade(): Promise<void> {
    const length = contentLength(this.call.headers);
    if (length > MAX_UPGRADE_BODY_BYTES) {
      throw invalidArgument(`the body of ${this.label} is larger than ${MAX_UPGRADE_BODY_BYTES} bytes`);
    }
    const body = await readPrefix(this.stream, length);
    if (body === null) {
      if (!this.stream.destroyed) throw invalidArgument(`the body of ${this.label} ended before ${length} bytes`);
      return;
    }
    const request = this.open({ Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': String(body.length) });
    if (!request) return;
    request.on('upgrade', (res, socket, head) => this.takeOver(res, socket, head));
    // The engine refused (404, 409…) or answered without taking over: a plain answer.
    request.on('response', (res) => this.answer(res));
    request.end(body);
  }

  /** Opens the call on the engine's socket; resets the stream and returns undefined if it cannot be made. */
  private open(extra: OutgoingHttpHeaders): ClientRequest | undefined {
    const { call, options } = this;
    // An upgraded call's own body is the prefix read off the stream, its length set by the caller.
    const headers: OutgoingHttpHeaders = { ...requestHeaders(call.headers, !call.upgrade && call.body), ...extra };
    let request: ClientRequest;
    try {
      request = httpRequest({
        method: call.method,
        path: call.path,
        headers,
        ...(call.upgrade || !options.agent
          ? // Half-open, so an upgraded session's input can still flow after the engine ended its output.
            { createConnection: () => createConnection({ path: options.socketPath, allowHalfOpen: true }) }
          : { agent: options.agent, socketPath: options.socketPath }),
      });
    } catch (error) {
      // Node refuses a malformed method, path or header before any connection is made.
      this.fail(invalidArgument(`cannot make ${this.label}: ${errorMessage(error)}`));
      return undefined;
    }
    this.request = request;
    request.on('error', (error: NodeJS.ErrnoException) => this.onRequestError(error));
    return request;
  }

  private answer(res: IncomingMessage): void {
    const { stream } = this;
    if (stream.destroyed) {
      res.destroy();
      return;
    }
    this.sendHead({ status: res.statusCode ?? 502, headers: answerHeaders(res.rawHeaders), upgraded: false });
    finished(res, (error) => {
      if (error) this.fail(this.brokeOff(error));
    });
    res.pipe(stream);
  }

  private takeOver(res: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { stream } = this;
    this.upgraded = socket;
    if (stream.destroyed) {
      socket.destroy();
      return;
    }
    this.sendHead({ status: res.statusCode ?? 101, headers: answerHeaders(res.rawHeaders), upgraded: true });
    socket.on('error', (error) => {
      if (!stream.writableEnded) this.fail(this.brokeOff(error));
    });
    socket.once('close', () => {
      // The engine's output never ended: the session broke off.
      if (!stream.writableEnded) this.fail(this.brokeOff(new Error('the connection closed')));
      else this.drain();
    });
    // Output the engine sent with its head; Node hands it over apart from the socket.
    if (head.length > 0) socket.unshift(head);
    // Each side's half-close ends the other's input.
    socket.pipe(stream);
    stream.pipe(socket);
  }

  private sendHead(head: Omit<EngineCallHead, 'stream'>): void {
    this.headSent = true;
    this.options.sendHead({ stream: this.call.stream, ...head });
  }

  /** Our side of the stream has ended: the answer is complete. */
  private onAnswered(): void {
    if (!this.upgraded) {
      // A body the engine did not read (it answered early) is of no use now.
      if (!this.stream.readableEnded) this.request?.destroy();
      this.drain();
    }
    this.lingerTimer = setTimeout(() => {
      this.options.logger.debug(`plane call ${this.label}: the server did not finish its side, abandoning the call`);
      this.stream.destroy();
    }, this.options.lingerMs);
  }

  /** Takes and drops what the server still sends, so that its side can end without a reset. */
  private drain(): void {
    const { stream } = this;
    if (stream.destroyed || stream.readableEnded) return;
    stream.unpipe();
    stream.resume();
  }

  private onRequestError(error: NodeJS.ErrnoException): void {
    if (this.stream.writableFinished) return;
    if (this.headSent) {
      this.fail(this.brokeOff(error));
      return;
    }
    const unreachable = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
    this.fail(
      unavailable(
        unreachable
          ? `the container engine is not running: cannot connect to ${this.options.socketPath} (${error.code})`
          : `the container engine did not answer ${this.label}: ${errorMessage(error)}`,
      ),
    );
  }

  private brokeOff(error: Error): EngineError {
    return unavailable(`the container engine's answer to ${this.label} broke off: ${errorMessage(error)}`);
  }

  /** Resets the stream with the reason; its close ends the local side. */
  private fail(error: unknown): void {
    if (this.stream.destroyed) return;
    const reason =
      error instanceof EngineError
        ? error
        : new EngineError('internal', `relaying ${this.label} failed`, { cause: error });
    if (!(error instanceof EngineError)) this.options.logger.error(`plane call ${this.label}: ${errorMessage(error)}`);
    else this.options.logger.debug(`plane call ${this.label}: ${reason.message}`);
    this.stream.destroy(reason);
  }

  private onStreamClose(): void {
    clearTimeout(this.lingerTimer);
    const { stream } = this;
    // A call that ended both ways leaves the local connection to close by itself, with its last bytes sent.
    if (stream.readableEnded && stream.writableFinished && !stream.errored) return;
    this.request?.destroy();
    this.upgraded?.destroy();
  }
}

/** The request headers to pass to the engine: the server's, without those of its own hop. */
export function requestHeaders(headers: Record<string, string>, body: boolean): OutgoingHttpHeaders {
  const passed: OutgoingHttpHeaders = {};
  const lowered = Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value] as const);
  const named = connectionTokens(lowered.find(([name]) => name === 'connection')?.[1]);
  for (const [lower, value] of lowered) {
    if (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower)) continue;
    // A call without a body must not promise one: the engine would wait for it.
    if (lower === 'content-length' && !body) continue;
    passed[lower] = value;
  }
  // A body of unknown length goes chunked, whatever the method (Node chunks only POST and PUT by itself).
  if (body && passed['content-length'] === undefined) passed['transfer-encoding'] = 'chunked';
  return passed;
}

/** The answer's headers for the server, names as the engine spelled them, without those of this hop. */
export function answerHeaders(rawHeaders: readonly string[]): Record<string, string> {
  const pairs: Array<[string, string]> = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) pairs.push([rawHeaders[index], rawHeaders[index + 1]]);
  const connection = pairs.filter(([name]) => name.toLowerCase() === 'connection').map(([, value]) => value);
  const named = connectionTokens(connection.join(','));
  const answer: Record<string, string> = {};
  const spelled = new Map<string, string>();
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower)) continue;
    const existing = spelled.get(lower);
    if (existing === undefined) {
      spelled.set(lower, name);
      answer[name] = value;
    } else {
      answer[existing] = `${answer[existing]}, ${value}`;
    }
  }
  return answer;
}

/** Header names a `Connection` header lists as belonging to the hop. */
function connectionTokens(value: string | undefined): Set<string> {
  const tokens = (value ?? '').split(',').map((token) => token.trim().toLowerCase());
  return new Set(tokens.filter((token) => token !== ''));
}

function contentLength(headers: Record<string, string>): number {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-length');
  if (entry === undefined) return 0;
  const length = Number(entry[1]);
  if (!/^\d+$/.test(entry[1].trim()) || !Number.isSafeInteger(length)) {
    throw invalidArgument(`invalid Content-Length: ${entry[1]}`);
  }
  return length;
}

/**
 * Reads the first `length` bytes of `stream` and leaves it paused with what follows unread.
 * Resolves with null when the stream ends or closes first.
 */
function readPrefix(stream: LinkStream, length: number): Promise<Buffer | null> {
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (value: Buffer | null) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < length) return;
      const all = Buffer.concat(chunks, size);
      settle(all.subarray(0, length));
      if (size > length) stream.unshift(all.subarray(length));
    };
    const onEnd = () => settle(null);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
  });
}
