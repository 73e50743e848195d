import { Injectable, inject, signal } from '@angular/core';
import { CONSOLE_NAMESPACE, type ConsoleEvents } from '@skiff/protocol';
import { io, type Socket } from 'socket.io-client';

import { Session } from '../auth/session';

/** `idle`: not wanted (signed out). `connecting`: first attempt. `live`: receiving. `reconnecting`: lost, retrying. */
export type ConnectionState = 'idle' | 'connecting' | 'live' | 'reconnecting';

/** Said by the server's namespace middleware when the cookie names no session. */
const UNAUTHENTICATED = 'unauthenticated';
/** The client does not retry by itself after a refusal or a server-side disconnect; we do, this often. */
const RETRY_AFTER_MS = 3_000;

/**
 * The console's one live connection to the server. Feeds register their listeners once (at start-up)
 * and the server sends every snapshot again after each (re)connection, so nothing is ever polled.
 */
@Injectable({ providedIn: 'root' })
export class ConsoleSocket {
  private readonly session = inject(Session);
  private readonly socket: Socket<ConsoleEvents, Record<string, never>> = io(CONSOLE_NAMESPACE, {
    autoConnect: false,
    withCredentials: true,
    transports: ['websocket'],
  });
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly connectionState = signal<ConnectionState>('idle');
  readonly state = this.connectionState.asReadonly();

  constructor() {
    this.socket.on('connect', () => this.connectionState.set('live'));
    this.socket.on('disconnect', (reason) => {
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

  connect(): void {
    if (this.connectionState() !== 'idle') {
      return;
    }
    this.connectionState.set('connecting');
    this.socket.connect();
  }

  disconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.socket.disconnect();
    this.connectionState.set('idle');
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
