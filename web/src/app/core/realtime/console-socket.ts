import { Injectable, inject, signal } from '@angular/core';
import {
  CONSOLE_NAMESPACE,
  type ConsoleClientEvents,
  type ConsoleEngineOpenResult,
  type ConsoleEvents,
  type EngineCallHead,
  type FleetEvent,
} from '@skiff/protocol';
import { Observable, Subject } from 'rxjs';
import { io, type Socket } from 'socket.io-client';

import { Session } from '../auth/session';
import { ConsoleStreamTable, StreamError, type ConsoleStream } from './console-stream';

/** `idle`: not wanted (signed out). `connecting`: first attempt. `live`: receiving. `reconnecting`: lost, retrying. */
export type ConnectionState = 'idle' | 'connecting' | 'live' | 'reconnecting';

/** Said by the server's namespace middleware when the cookie names no session. */
const UNAUTHENTICATED = 'unauthenticated';
/** The client does not retry by itself after a refusal or a server-side disconnect; we do, this often. */
const RETRY_AFTER_MS = 3_000;
/** How long the server may take to answer `engine.open` (it waits for the agent's head). */
const OPEN_TIMEOUT_MS = 30_000;
/**
 * How long a call waits for the connection to come up. A page opened by its address (a bookmark, a
 * reload) asks for its log or stats while the socket is still connecting; without the wait it
 * failed at once and the user had to press "Follow again".
 */
const CONNECT_WAIT_MS = 10_000;

/** An Engine API call made over the console socket (see `ConsoleEngineOpen`). */
export interface EngineOpenRequest {
  hostId: string;
  method: string;
  /** The Engine API path with its query, e.g. `/v1.41/containers/web/logs?follow=1`. */
  path: string;
  body?: unknown;
}

/** The answer's head, and the stream its body arrives on (and, for exec and attach, its input goes out on). */
export interface EngineCallOpened {
  head: EngineCallHead;
  stream: ConsoleStream;
}

/**
 * The console's one live connection to the server. Feeds register their listeners once (at start-up)
 * and the server sends every snapshot again after each (re)connection, so nothing is ever polled.
 */
@Injectable({ providedIn: 'root' })
export class ConsoleSocket {
  private readonly session = inject(Session);
  private readonly socket: Socket<ConsoleEvents, ConsoleClientEvents> = io(CONSOLE_NAMESPACE, {
    autoConnect: false,
    withCredentials: true,
    transports: ['websocket'],
  });
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly streams = new ConsoleStreamTable({
    data: (id, chunk) => this.socket.emit('stream.data', id, chunk),
    end: (id) => this.socket.emit('stream.end', id),
    credit: (id, bytes) => this.socket.emit('stream.credit', id, bytes),
    reset: (id, error) => this.socket.emit('stream.reset', id, error),
  });
  private readonly fleetEvents = new Subject<FleetEvent>();
  private fleetSubscribers = 0;
  private readonly fleetFeedFailure = signal<string | null>(null);
  /** Why the server refused the fleet events, if it did. */
  readonly fleetFeedError = this.fleetFeedFailure.asReadonly();

  private readonly connectionState = signal<ConnectionState>('idle');
  readonly state = this.connectionState.asReadonly();

  constructor() {
    this.socket.on('connect', () => {
      this.connectionState.set('live');
      // The server forgets a subscription with its connection.
      if (this.fleetSubscribers > 0) this.askForFleetEvents();
    });
    // Socket.IO gives browsers binary as ArrayBuffer; the table takes either.
    this.socket.on('stream.data', (id, chunk: unknown) => this.streams.data(id, chunk));
    this.socket.on('stream.end', (id) => this.streams.end(id));
    this.socket.on('stream.credit', (id, bytes) => this.streams.credit(id, bytes));
    this.socket.on('stream.reset', (id, error) => this.streams.reset(id, error));
    this.socket.on('fleet.event', (event) => this.fleetEvents.next(event));
    // Streams are closed one by one before the page goes, rather than left for the server to fail
    // when the connection drops (the server then logs them as broken, not as ended).
    window.addEventListener('pagehide', () => this.streams.closeAll());
    this.socket.on('disconnect', (reason) => {
      // The server closed every stream of this connection with it.
      this.streams.failAll({ kind: 'unavailable', message: 'the connection to the server was lost' });
      if (reason === 'io client disconnect') {
        this.connectionState.set('idle');
        return;
      }
      this.connectionState.set('reconnecting');
      if (!this.socket.active) {
        // The server closed the namespace ("io server disconnect"); ask again, which also tells us
        // if the session is gone.
        this.scheduleRetry();
      }
    });
    this.socket.on('connect_error', (error) => {
      if (error.message === UNAUTHENTICATED) {
        this.disconnect();
        this.session.expire();
        return;
      }
      if (this.connectionState() === 'live') {
        this.connectionState.set('reconnecting');
      }
      if (!this.socket.active) {
        this.scheduleRetry();
      }
    });
  }

  on<E extends keyof ConsoleEvents>(event: E, listener: ConsoleEvents[E]): void {
    // socket.io's listener type is a conditional type TypeScript cannot resolve for a generic E.
    this.socket.on(event, listener as never);
  }

  /**
   * Makes an Engine API call on a host; resolves once the host answered with its head. The stream
   * is opened at this end before the server is asked, so nothing it sends is missed. A call that
   * is not a two-way session (`head.upgraded` false) has its sending side ended at once.
   */
  async openEngine(request: EngineOpenRequest): Promise<EngineCallOpened> {
    await this.connected();
    const stream = this.streams.open();
    let result: ConsoleEngineOpenResult;
    try {
      result = await this.socket.timeout(OPEN_TIMEOUT_MS).emitWithAck('engine.open', { ...request, stream: stream.id });
    } catch {
      stream.close();
      throw new StreamError({ kind: 'unavailable', message: 'the server did not answer in time; try again' });
    }
    if (!result.ok) {
      stream.close();
      throw new StreamError(result.error);
    }
    if (stream.isClosed) {
      throw new StreamError({ kind: 'unavailable', message: 'the connection to the server was lost' });
    }
    if (!result.head.upgraded) stream.end();
    return { head: result.head, stream };
  }

  /**
   * The Docker events of every visible host, while subscribed (shared by all subscribers, asked
   * again after each reconnection). Events missed while disconnected are not replayed: reload on
   * reconnection.
   */
  fleetEvents$(): Observable<FleetEvent> {
    return new Observable<FleetEvent>((subscriber) => {
      const subscription = this.fleetEvents.subscribe(subscriber);
      this.fleetSubscribers += 1;
      if (this.fleetSubscribers === 1 && this.socket.connected) this.askForFleetEvents();
      return () => {
        subscription.unsubscribe();
        this.fleetSubscribers -= 1;
        if (this.fleetSubscribers === 0 && this.socket.connected) this.socket.emit('fleet.events.unsubscribe');
      };
    });
  }

  connect(): void {
    if (this.connectionState() !== 'idle') {
      return;
    }
    this.connectionState.set('connecting');
    this.socket.connect();
  }

  disconnect(): void {
    this.streams.closeAll();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.socket.disconnect();
    this.connectionState.set('idle');
  }

  /** Resolves once the socket is connected, waiting a while for a connection under way. */
  private connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    const unavailable = new StreamError({
      kind: 'unavailable',
      message: 'not connected to the server; wait for it to reconnect',
    });
    if (this.connectionState() === 'idle') return Promise.reject(unavailable);
    return new Promise<void>((resolve, reject) => {
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.socket.off('connect', onConnect);
        reject(unavailable);
      }, CONNECT_WAIT_MS);
      this.socket.once('connect', onConnect);
    });
  }

  private askForFleetEvents(): void {
    this.socket.emit('fleet.events.subscribe', (result) => {
      this.fleetFeedFailure.set(result.ok ? null : (result.error?.message ?? 'the server refused the fleet events'));
    });
  }

  private scheduleRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.connectionState() !== 'idle') {
        this.socket.connect();
      }
    }, RETRY_AFTER_MS);
  }
}
