import { Injectable } from '@nestjs/common';
import {
  type AgentToServerEvents,
  type EngineCall,
  type EngineCallHead,
  type ErrorBody,
  MAX_STREAMS_PER_LINK,
  type ServerToAgentEvents,
} from '@skiff/protocol';
import { type LinkStream, LinkStreamTable, StreamResetError } from '@skiff/protocol/link-stream';
import type { Namespace, Socket } from 'socket.io';
import { DomainError } from '../errors/domain-error.js';

export type AgentSocket = Socket<AgentToServerEvents, ServerToAgentEvents>;

/** An Engine API call in flight on an agent's link: its stream, and the answer's head once it comes. */
export interface OpenEngineCall {
  stream: LinkStream;
  head: Promise<EngineCallHead>;
}

interface HostLink {
  socket: AgentSocket;
  streams: LinkStreamTable;
  heads: Map<number, (head: EngineCallHead) => void>;
  nextStreamId: number;
  /** Calls started on this link so far. */
  callsStarted: number;
}

/** The live agent connections of this server replica, one per host, and the streams on them. */
@Injectable()
export class AgentLinkRepository {
  private readonly byHost = new Map<string, HostLink>();

  /** Records `socket` as the host's link and routes its stream frames; an older link of the same host is cut. */
  register(hostId: string, socket: AgentSocket): void {
    const previous = this.byHost.get(hostId);
    const link: HostLink = {
      socket,
      streams: new LinkStreamTable({
        data: (id, chunk) => socket.emit('stream.data', id, chunk),
        end: (id) => socket.emit('stream.end', id),
        credit: (id, bytes) => socket.emit('stream.credit', id, bytes),
        reset: (id, error) => socket.emit('stream.reset', id, error),
      }),
      heads: new Map(),
      nextStreamId: 1,
      callsStarted: 0,
    };
    this.byHost.set(hostId, link);
    socket.on('stream.data', (id, chunk) => link.streams.data(id, chunk));
    socket.on('stream.end', (id) => link.streams.end(id));
    socket.on('stream.credit', (id, bytes) => link.streams.credit(id, bytes));
    socket.on('stream.reset', (id, error) => link.streams.reset(id, error));
    socket.on('engine.head', (head) => {
      const id = (head as Partial<EngineCallHead> | undefined)?.stream;
      if (typeof id !== 'number') return;
      const resolve = link.heads.get(id);
      link.heads.delete(id);
      resolve?.(head);
    });
    socket.once('disconnect', () =>
      link.streams.closeAll({ kind: 'unavailable', message: 'the host disconnected during the call' }),
    );
    if (previous && previous.socket.id !== socket.id) previous.socket.disconnect(true);
  }

  /** True when `socket` is still the host's current link (an older one may close after a newer one registered). */
  forget(hostId: string, socket: AgentSocket): boolean {
    if (this.byHost.get(hostId)?.socket.id !== socket.id) return false;
    this.byHost.delete(hostId);
    return true;
  }

  /** Tells the agent why and closes its link at once. */
  cut(hostId: string, reason: ErrorBody): void {
    const link = this.byHost.get(hostId);
    if (!link) return;
    this.byHost.delete(hostId);
    link.socket.emit('auth.revoked', reason);
    link.socket.disconnect(true);
  }

  isConnected(hostId: string): boolean {
    return this.byHost.has(hostId);
  }

  /**
   * Starts an Engine API call on the host's agent. Write the request body (if `call.body`) into
   * the returned stream and end it; the answer's head resolves once the agent has it, and its body
   * is the stream's readable side. Fails with unavailable when the host is not connected here.
   */
  openCall(hostId: string, call: Omit<EngineCall, 'stream'>): OpenEngineCall {
    const link = this.byHost.get(hostId);
    if (!link) throw new DomainError('unavailable', `host ${hostId} is not connected; check that its agent is running`);
    if (link.streams.size >= MAX_STREAMS_PER_LINK) {
      throw new DomainError(
        'too-many-requests',
        `host ${hostId} has ${MAX_STREAMS_PER_LINK} calls in flight; retry later`,
      );
    }
    const id = link.nextStreamId;
    link.nextStreamId = id >= 0x7fffffff ? 1 : id + 1;
    const stream = link.streams.open(id);
    link.callsStarted += 1;
    const head = new Promise<EngineCallHead>((resolve, reject) => {
      link.heads.set(id, resolve);
      const onGone = (error?: Error) => {
        if (!link.heads.delete(id)) return;
        reject(
          error instanceof StreamResetError
            ? new DomainError(error.kind, error.message)
            : new DomainError('unavailable', `the call to host ${hostId} ended before it was answered`),
        );
      };
      stream.once('error', onGone);
      stream.once('close', () => onGone());
    });
    // Callers that never await the head (a failure on their side) must not leave it unhandled.
    head.catch(() => undefined);
    link.socket.emit('engine.call', { ...call, stream: id });
    return { stream, head };
  }

  /** How many calls the host's current link has started, ended or not (for tests and metrics). */
  startedCallCount(hostId: string): number {
    return this.byHost.get(hostId)?.callsStarted ?? 0;
  }

  /** How many calls are in flight on the host's link. */
  openCallCount(hostId: string): number {
    return this.byHost.get(hostId)?.streams.size ?? 0;
  }

  /** Bytes held on this side of the host's link, in all its streams: what stalled readers cost the server. */
  bufferedBytes(hostId: string): number {
    return (this.byHost.get(hostId)?.streams.list() ?? []).reduce((sum, stream) => sum + stream.bufferedBytes, 0);
  }

  closeAll(namespace: Namespace | undefined): void {
    this.byHost.clear();
    namespace?.disconnectSockets(true);
  }
}
