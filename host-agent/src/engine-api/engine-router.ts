import type { Duplex, Readable, Writable } from 'node:stream';
import {
  engineRoute,
  type EngineHijackRouteKey,
  type EngineRoute,
  type EngineRouteKey,
  type EngineRouteParams,
} from '@skiff/protocol';
import type { EngineQuery } from './engine-query.js';
import type { JsonLinesWriter } from './json-lines-writer.js';

export type TabledEngineRoute = EngineRoute & { readonly key: EngineRouteKey };

/** One Engine API call as a handler sees it, whichever door it came through. */
export interface EngineRequest<Key extends EngineRouteKey = EngineRouteKey> {
  readonly route: TabledEngineRoute;
  readonly params: EngineRouteParams<Key>;
  readonly query: EngineQuery;
  /** The version the call is served at (its `/v1.NN` prefix, else the engine's own). */
  readonly apiVersion: string;
  /** A request header (name in any case), or undefined. */
  header(name: string): string | undefined;
  /** The body as it arrives; `upload` routes read tar archives from it. Read it or `json()`, not both. */
  readonly body: Readable;
  /** The body as JSON (undefined when empty); 400 when malformed or over MAX_JSON_BODY_BYTES. */
  json(): Promise<unknown>;
  /** Aborted when the client goes away before the answer is complete. */
  readonly signal: AbortSignal;
}

/** How a handler answers. Exactly one of the answering methods is called, once. */
export interface EngineReply {
  /** True once an answer has started. */
  readonly sent: boolean;
  /** Adds a header to the answer that is about to start. */
  setHeader(name: string, value: string): void;
  json(status: number, value: unknown): void;
  /** An answer without a body: 204, or 200/201 with `Content-Length: 0`. */
  empty(status: number): void;
  text(status: number, body: string, contentType?: string): void;
  /**
   * Starts a streamed answer (logs, tar downloads, wait) and returns where to write it. The
   * headers go out at once; the stream ends when the handler's promise settles, if not before.
   */
  stream(status: number, contentType?: string): Writable;
  /** Starts a streamed `application/json` answer of one document per line (events, stats, progress). */
  jsonLines(status?: number): JsonLinesWriter;
}

export type EngineHandler<Key extends EngineRouteKey = EngineRouteKey> = (
  request: EngineRequest<Key>,
  reply: EngineReply,
) => Promise<void> | void;

/** A connection taken over by an attach or exec-start handler. */
export interface HijackedStream {
  /**
   * The raw connection: read the client's input from it (bytes that came with the request
   * included) and write output into it. The client may half-close it (the docker CLI does so
   * whenever it has no stdin): reading ends, writing goes on. Do not end it yourself: it is ended
   * when the handler's promise settles.
   */
  readonly socket: Duplex;
  /** True when the client asked for an upgrade (`101 UPGRADED`), false for the plain 200 form. */
  readonly upgraded: boolean;
}

/** Offered to a hijack handler: it answers with an error (throw) or takes the connection. */
export interface HijackChannel {
  /**
   * Sends the `101 UPGRADED` (or `200 OK`) head with `Content-Type: application/vnd.docker.raw-stream`
   * and hands over the connection. Throw an EngineError instead of calling this to refuse the call.
   */
  accept(): HijackedStream;
  /**
   * Answers without taking the connection (e.g. exec start with `Detach: true`), as a plain
   * response after which the connection closes.
   */
  readonly reply: EngineReply;
}

export type EngineHijackHandler<Key extends EngineHijackRouteKey = EngineHijackRouteKey> = (
  request: EngineRequest<Key>,
  channel: HijackChannel,
) => Promise<void>;

type Registered = { kind: 'plain'; handler: EngineHandler } | { kind: 'hijack'; handler: EngineHijackHandler };

/**
 * Handlers by route key. A route of the table without a handler answers 501; a path outside the
 * table answers 404. Registering a key twice, or a key outside the table, is a programming error.
 */
export class EngineRouter {
  private readonly handlers = new Map<EngineRouteKey, Registered>();

  /** Registers the handler of a route that is not hijacked. */
  handle<Key extends Exclude<EngineRouteKey, EngineHijackRouteKey>>(key: Key, handler: EngineHandler<Key>): this {
    return this.register(key, 'plain', { kind: 'plain', handler: handler as unknown as EngineHandler });
  }

  /** Registers the handler of `POST /containers/{id}/attach` or `POST /exec/{id}/start`. */
  hijack<Key extends EngineHijackRouteKey>(key: Key, handler: EngineHijackHandler<Key>): this {
    return this.register(key, 'hijack', { kind: 'hijack', handler: handler as unknown as EngineHijackHandler });
  }

  lookup(key: EngineRouteKey): Registered | undefined {
    return this.handlers.get(key);
  }

  /** The keys that have a handler, for logs and tests. */
  registeredKeys(): EngineRouteKey[] {
    return [...this.handlers.keys()];
  }

  private register(key: EngineRouteKey, kind: Registered['kind'], entry: Registered): this {
    const route = engineRoute(key);
    if (route === undefined) throw new Error(`engine router: ${key} is not in the route table`);
    if ((route.stream === 'hijack') !== (kind === 'hijack')) {
      throw new Error(
        `engine router: ${key} must be registered with ${route.stream === 'hijack' ? 'hijack' : 'handle'}()`,
      );
    }
    if (this.handlers.has(key)) throw new Error(`engine router: ${key} already has a handler`);
    this.handlers.set(key, entry);
    return this;
  }
}
