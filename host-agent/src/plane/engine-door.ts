import { type EngineCall, type ErrorBody, MAX_STREAMS_PER_LINK } from '@skiff/protocol';
import { LinkStreamTable, StreamResetError, type LinkStreamOptions } from '@skiff/protocol/link-stream';
import { Agent as HttpAgent } from 'node:http';
import { EngineError } from '../engine-error.js';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { EngineCallRelay } from './engine-call-relay.js';
import type { DoorRequests, PlaneDoor, PlaneSession } from './plane-session.js';

/** How long a call with a complete answer waits for the server to finish its side. */
export const DEFAULT_LINGER_MS = 30_000;

const ENGINE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

export interface EngineDoorOptions {
  /** The engine's Engine API socket; undefined when this agent runs no engine (it is not root). */
  socketPath: string | undefined;
  logger: Logger;
  maxCalls?: number;
  lingerMs?: number;
  /** Window and chunk sizes of the streams; both ends of a link must agree (tests make them small). */
  streams?: Pick<LinkStreamOptions, 'windowBytes' | 'chunkBytes'>;
}

/**
 * The plane door: the server's Engine API calls (`engine.call`), made on this host's engine and
 * answered over numbered streams of the authenticated connection they came on. Every call is
 * replayed on the engine's own socket (see EngineCallRelay), so it is answered exactly as the
 * docker CLI would be. When the connection is lost, every call on it ends.
 */
export class EngineDoor implements PlaneDoor {
  private readonly maxCalls: number;
  private readonly lingerMs: number;
  /** Connections to the engine's socket kept between calls: a call costs no connect. */
  private readonly engineAgent = new HttpAgent({ keepAlive: true, maxFreeSockets: 16 });

  constructor(private readonly options: EngineDoorOptions) {
    this.maxCalls = options.maxCalls ?? MAX_STREAMS_PER_LINK;
    this.lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  }

  open(session: PlaneSession): DoorRequests {
    const { logger } = this.options;
    const streams = new LinkStreamTable(
      {
        data: (id, chunk) => session.emit('stream.data', id, chunk),
        end: (id) => session.emit('stream.end', id),
        credit: (id, bytes) => session.emit('stream.credit', id, bytes),
        reset: (id, error) => session.emit('stream.reset', id, error),
      },
      { ...this.options.streams, describeError: (error) => describeFailure(error, logger) },
    );
    session.closed.addEventListener(
      'abort',
      () => streams.closeAll({ kind: 'unavailable', message: 'the link to the server was lost' }),
      { once: true },
    );
    return {
      'engine.call': (call) => this.accept(call, streams, session),
      'stream.data': (id, chunk) => streams.data(id, chunk),
      'stream.end': (id) => streams.end(id),
      'stream.credit': (id, bytes) => streams.credit(id, bytes),
      'stream.reset': (id, error) => streams.reset(id, error),
    };
  }

  private accept(call: EngineCall, streams: LinkStreamTable, session: PlaneSession): void {
    const { logger, socketPath } = this.options;
    const id = (call as Partial<EngineCall> | undefined)?.stream;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      logger.warn(`the server sent an engine call without a valid stream number: ${String(id)}`);
      return;
    }
    const refuse = (error: ErrorBody) => {
      logger.debug(`refused engine call on stream ${id}: ${error.message}`);
      session.emit('stream.reset', id, error);
    };
    // A number still in use here belongs to another call: resetting it would end that one.
    if (streams.get(id) !== undefined) {
      refuse({ kind: 'invalid-argument', message: `stream ${id} is already in use by another call` });
      return;
    }
    const problem = callProblem(call);
    if (problem !== undefined) {
      refuse({ kind: 'invalid-argument', message: `malformed engine call: ${problem}` });
      return;
    }
    if (socketPath === undefined) {
      refuse({
        kind: 'unavailable',
        message: 'this host runs no container engine: skiff-agent is not running as root',
      });
      return;
    }
    if (streams.size >= this.maxCalls) {
      refuse({
        kind: 'too-many-requests',
        message: `this host has ${this.maxCalls} engine calls in flight on its link; retry later`,
      });
      return;
    }
    const stream = streams.open(id);
    new EngineCallRelay(call, stream, {
      socketPath,
      agent: this.engineAgent,
      sendHead: (head) => session.emit('engine.head', head),
      lingerMs: this.lingerMs,
      logger,
    }).start();
  }
}

/** Why an engine call is unusable, or undefined: checked before anything is made of it. */
function callProblem(call: EngineCall): string | undefined {
  if (typeof call.method !== 'string' || !ENGINE_METHODS.has(call.method)) {
    return `method ${String(call.method)} is not one of ${[...ENGINE_METHODS].join(', ')}`;
  }
  if (typeof call.path !== 'string' || !/^\/[\x21-\x7e]*$/.test(call.path)) {
    return 'the path must start with / and hold printable ASCII only';
  }
  const headers = call.headers as unknown;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return 'headers must be an object';
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') return `header ${name} is not a string`;
  }
  if (typeof call.body !== 'boolean' || typeof call.upgrade !== 'boolean') return 'body and upgrade must be booleans';
  return undefined;
}

/** What the server learns of a call that failed here: the kind and message of a known failure, never internals. */
function describeFailure(error: Error, logger: Logger): ErrorBody {
  if (error instanceof EngineError) {
    return error.kind === 'internal'
      ? { kind: 'internal', message: `${error.message}; the agent's log has the details` }
      : { kind: error.kind, message: error.message };
  }
  if (error instanceof StreamResetError) return error.body;
  logger.error(`an engine call's stream failed: ${errorMessage(error)}`);
  return { kind: 'internal', message: 'the agent failed while relaying the call; its log has the details' };
}
