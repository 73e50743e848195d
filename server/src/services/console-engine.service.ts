import { Injectable, Logger } from '@nestjs/common';
import type { ConsoleEngineOpen, EngineCallHead } from '@skiff/protocol';
import type { LinkStream, LinkStreamTable } from '@skiff/protocol/link-stream';
import { pipeline } from 'node:stream/promises';
import { conflict, invalidArgument } from '../errors/domain-error.js';
import type { Actor, RequestOrigin } from './actor.js';
import { AnswerSample, filterJsonLines, streamFailure } from './engine-call-pipe.js';
import { type AuthorisedCall, EngineProxyService } from './engine-proxy.service.js';
import { EngineSessionService } from './engine-session.service.js';
import { LogFanout } from './log-fanout.js';

interface SharedLog {
  fanout: LogFanout;
  head: EngineCallHead;
}

function isFollowedLog(call: AuthorisedCall): boolean {
  const follow = call.query.get('follow');
  return call.match.route.key === 'GET /containers/{id}/logs' && (follow === '1' || follow === 'true');
}

/**
 * Engine API calls a browser makes over the `/console` socket: the same authorisation and audit
 * as the REST proxy, the answer streamed back on the console's numbered stream with flow control.
 * Followed logs of one container are shared: many viewers, one stream from the agent.
 */
@Injectable()
export class ConsoleEngineService {
  private readonly logger = new Logger('console-engine');
  private readonly sharedLogs = new Map<string, Promise<SharedLog>>();

  constructor(
    private readonly proxy: EngineProxyService,
    private readonly sessions: EngineSessionService,
  ) {}

  /** How many followed logs are shared right now (for tests and metrics). */
  get sharedLogCount(): number {
    return this.sharedLogs.size;
  }

  /** Authorises and starts the call; resolves with the answer's head once the agent has it. */
  async open(
    actor: Actor,
    origin: RequestOrigin,
    streams: LinkStreamTable,
    request: ConsoleEngineOpen,
  ): Promise<EngineCallHead> {
    const { stream, hostId, method, path } = request ?? {};
    if (!Number.isSafeInteger(stream) || stream <= 0)
      throw invalidArgument('engine.open needs a positive stream number');
    if (typeof hostId !== 'string' || typeof method !== 'string' || typeof path !== 'string') {
      throw invalidArgument('engine.open needs hostId, method and path');
    }
    if (streams.get(stream)) throw conflict(`stream ${stream} is already open on this console`);
    const call = await this.proxy.authorise(
      { actor, origin },
      hostId,
      method,
      path.startsWith('/') ? path : `/${path}`,
      request.body,
    );
    switch (call.match.route.stream) {
      case 'hijack':
        return this.openSession(call, streams, stream, request.body);
      // A console sends JSON only: an upload route without an archive (a pull's progress) is a plain call.
      case 'upload':
      case 'chunked':
      case 'none':
        return isFollowedLog(call)
          ? this.openSharedLog(call, streams, stream)
          : this.openCall(call, streams, stream, request.body);
    }
  }

  /**
   * Opens the console's end of a stream. It may fail at any moment (the console disconnects and
   * every stream is reset): that is logged, never left as an unhandled 'error' that would stop
   * the server.
   */
  private openViewer(streams: LinkStreamTable, streamId: number): LinkStream {
    const viewer = streams.open(streamId);
    viewer.on('error', (error) => this.logger.debug(`console stream ${streamId}: ${error.message}`));
    return viewer;
  }

  private async openCall(
    call: AuthorisedCall,
    streams: LinkStreamTable,
    streamId: number,
    body: unknown,
  ): Promise<EngineCallHead> {
    const json = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = json
      ? { 'content-type': 'application/json', 'content-length': String(json.length) }
      : {};
    const { stream: upstream, head } = this.proxy.open(call, { headers, body: json !== null, upgrade: false });
    upstream.end(json ?? undefined);
    const answer = await head;
    const viewer = this.openViewer(streams, streamId);
    viewer.resume(); // Nothing the console sends on a plain call means anything.
    const sample = new AnswerSample();
    upstream.on('data', (chunk: Buffer) => sample.take(chunk));
    const filter = this.proxy.listFilter(call);
    const flowing = filter ? pipeline(upstream, filterJsonLines(filter), viewer) : pipeline(upstream, viewer);
    void flowing
      .then(
        () => null,
        (error: unknown) => streamFailure(error),
      )
      .then((failure) =>
        this.proxy.complete(call, {
          status: answer.status,
          error: answer.status >= 400 ? sample.errorMessage(answer.status) : failure,
          createdId: sample.createdId(),
        }),
      )
      .catch((error: unknown) => this.logger.error(`audit of ${call.match.route.key}: ${streamFailure(error)}`));
    return answer;
  }

  private async openSharedLog(
    call: AuthorisedCall,
    streams: LinkStreamTable,
    streamId: number,
  ): Promise<EngineCallHead> {
    const key = `${call.host.id} ${call.path}`;
    let shared = this.sharedLogs.get(key);
    const current = shared ? await shared.catch(() => null) : null;
    if (!shared || !current || current.fanout.isClosed) {
      shared = this.startSharedLog(key, call);
      this.sharedLogs.set(key, shared);
    }
    const { fanout, head } = await shared;
    const viewer = this.openViewer(streams, streamId);
    viewer.resume();
    fanout.add(viewer);
    return head;
  }

  private startSharedLog(key: string, call: AuthorisedCall): Promise<SharedLog> {
    const started: Promise<SharedLog> = (async () => {
      const { stream: upstream, head } = this.proxy.open(call, { headers: {}, body: false, upgrade: false });
      upstream.end();
      const answer = await head;
      const fanout = new LogFanout(upstream, () => {
        if (this.sharedLogs.get(key) === started) this.sharedLogs.delete(key);
      });
      return { fanout, head: answer };
    })();
    started.catch(() => {
      if (this.sharedLogs.get(key) === started) this.sharedLogs.delete(key);
    });
    return started;
  }

  private openSession(
    call: AuthorisedCall,
    streams: LinkStreamTable,
    streamId: number,
    body: unknown,
  ): Promise<EngineCallHead> {
    const json = Buffer.from(body === undefined ? '' : JSON.stringify(body));
    const client = this.openViewer(streams, streamId);
    return new Promise<EngineCallHead>((resolve, reject) => {
      this.sessions
        .run(call, { body: json, contentType: 'application/json', client, answer: (head) => resolve(head) })
        .catch((error: unknown) => {
          client.destroy();
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
  }
}
