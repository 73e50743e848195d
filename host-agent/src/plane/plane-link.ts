import {
  AGENT_NAMESPACE,
  AUTH_TIMEOUT_MS,
  HEARTBEAT_INTERVAL_MS,
  challengePayload,
  type AgentToServerEvents,
  type AuthChallenge,
  type AuthResult,
  type EngineCall,
  type ErrorBody,
  type HostInventory,
  type ServerToAgentEvents,
} from '@skiff/protocol';
import { io, type Socket } from 'socket.io-client';
import { errorMessage } from '../error-message.js';
import type { Logger } from '../logger.js';
import { Backoff } from './backoff.js';
import type { HostKey } from './host-key.js';
import type { DoorRequests, PlaneDoor, PlaneSession } from './plane-session.js';

export type AgentSocket = Socket<ServerToAgentEvents, AgentToServerEvents>;

/** How a link ends: asked to stop, or told by the server that this host may no longer connect. */
export type LinkOutcome = { kind: 'stopped' } | { kind: 'revoked'; error: ErrorBody };

export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  randomization: number;
}

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  randomization: 0.5,
};

export interface PlaneLinkOptions {
  serverUrl: string;
  hostId: string;
  key: HostKey;
  collectInventory: () => Promise<HostInventory>;
  logger: Logger;
  heartbeatIntervalMs?: number;
  authTimeoutMs?: number;
  reconnect?: ReconnectPolicy;
  /** Serves the server's Engine API calls once a connection is authenticated; without it they are refused. */
  door?: PlaneDoor;
  /** At most one "cannot reach the server" line per this interval. */
  connectErrorLogIntervalMs?: number;
  now?: () => number;
}

/** Error kinds in an authentication answer that mean this identity is no longer accepted. */
const REVOKING_KINDS: ReadonlySet<string> = new Set(['forbidden', 'unauthenticated']);

/**
 * The agent's outgoing Socket.IO link: answers the server's challenge on every connection,
 * sends heartbeats while authenticated, and reconnects with backoff until stopped or revoked.
 * While a connection is authenticated, its door (the EngineDoor) serves the server's Engine API
 * calls on it. One instance runs once.
 */
export class PlaneLink {
  private readonly socket: AgentSocket;
  private readonly manualBackoff: Backoff;
  private readonly now: () => number;
  private resolveOutcome: ((outcome: LinkOutcome) => void) | undefined;
  private finished = false;
  private authenticated = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private lastConnectErrorLogAt = Number.NEGATIVE_INFINITY;
  /** The door's handlers on the current authenticated connection. */
  private session: { requests: DoorRequests; closed: AbortController } | undefined;

  constructor(private readonly options: PlaneLinkOptions) {
    const policy = options.reconnect ?? DEFAULT_RECONNECT_POLICY;
    this.now = options.now ?? Date.now;
    this.manualBackoff = new Backoff(policy);
    this.socket = io(`${options.serverUrl}${AGENT_NAMESPACE}`, {
      autoConnect: false,
      forceNew: true,
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: policy.initialDelayMs,
      reconnectionDelayMax: policy.maxDelayMs,
      randomizationFactor: policy.randomization,
    });
  }

  run(signal: AbortSignal): Promise<LinkOutcome> {
    if (this.resolveOutcome || this.finished) throw new Error('a plane link runs only once');
    return new Promise<LinkOutcome>((resolve) => {
      this.resolveOutcome = resolve;
      if (signal.aborted) {
        this.finish({ kind: 'stopped' });
        return;
      }
      signal.addEventListener('abort', () => this.finish({ kind: 'stopped' }), { once: true });
      this.subscribe();
      this.options.logger.info(`connecting to ${this.options.serverUrl}`);
      this.socket.connect();
    });
  }

  private subscribe(): void {
    const { socket } = this;
    socket.on('connect', () => {
      this.failedAttempts = 0;
      this.options.logger.debug(`link to ${this.options.serverUrl} open, waiting for the challenge`);
    });
    socket.on('auth.challenge', (challenge) => {
      this.answerChallenge(challenge).catch((error: unknown) => {
        this.options.logger.error(`cannot answer the server's challenge: ${errorMessage(error)}`);
        this.restart();
      });
    });
    socket.on('auth.revoked', (error) => this.finish({ kind: 'revoked', error: asErrorBody(error) }));
    socket.on('engine.call', (call) => this.onEngineCall(call));
    socket.on('stream.data', (id, chunk) => this.session?.requests['stream.data'](id, chunk));
    socket.on('stream.end', (id) => this.session?.requests['stream.end'](id));
    socket.on('stream.credit', (id, bytes) => this.session?.requests['stream.credit'](id, bytes));
    socket.on('stream.reset', (id, error) => this.session?.requests['stream.reset'](id, error));
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.on('connect_error', (error) => this.onConnectError(error));
  }

  private async answerChallenge(challenge: AuthChallenge): Promise<void> {
    const nonce = (challenge as Partial<AuthChallenge> | undefined)?.nonce;
    if (typeof nonce !== 'string' || nonce === '') throw new Error('the challenge has no nonce');
    const connection = this.socket.id;
    const { hostId, key } = this.options;
    const inventory = await this.options.collectInventory();
    if (this.finished || this.socket.id !== connection) return;
    const signature = key.sign(challengePayload(nonce, hostId));
    this.socket
      .timeout(this.options.authTimeoutMs ?? AUTH_TIMEOUT_MS)
      .emit('auth.response', { hostId, signature, inventory }, (error: Error | null, result: AuthResult) => {
        // An answer that arrives after this connection was lost belongs to a past attempt.
        if (this.finished || this.socket.id !== connection) return;
        if (error) {
          this.options.logger.warn(`the server did not answer the authentication: ${error.message}; reconnecting`);
          this.restart();
          return;
        }
        this.onAuthResult(result);
      });
  }

  private onAuthResult(result: AuthResult): void {
    if (result?.ok === true) {
      this.authenticated = true;
      this.manualBackoff.reset();
      this.options.logger.info(`connected to ${this.options.serverUrl} as host ${result.name} (${result.hostId})`);
      this.openSession();
      this.startHeartbeat();
      return;
    }
    const error = asErrorBody(result?.error);
    if (REVOKING_KINDS.has(error.kind)) {
      this.finish({ kind: 'revoked', error });
      return;
    }
    this.options.logger.warn(`the server refused the connection (${error.kind}): ${error.message}; retrying`);
    this.restart();
  }

  private onDisconnect(reason: string): void {
    this.closeSession();
    this.stopHeartbeat();
    const wasAuthenticated = this.authenticated;
    this.authenticated = false;
    if (this.finished) return;
    if (wasAuthenticated)
      this.options.logger.warn(`disconnected from ${this.options.serverUrl} (${reason}); reconnecting`);
    // socket.io only reconnects by itself after a transport loss, not when the server closed the socket.
    if (!this.socket.active) this.scheduleManualReconnect();
  }

  private onConnectError(error: Error): void {
    if (this.finished) return;
    this.failedAttempts += 1;
    const now = this.now();
    if (now - this.lastConnectErrorLogAt >= (this.options.connectErrorLogIntervalMs ?? 5_000)) {
      this.lastConnectErrorLogAt = now;
      this.options.logger.warn(
        `cannot reach ${this.options.serverUrl} (${describeConnectError(error)}); still trying, attempt ${this.failedAttempts}`,
      );
    }
    // A refusal by the server's middleware leaves the socket inactive: no automatic retry follows.
    if (!this.socket.active) this.scheduleManualReconnect();
  }

  /** Drops the current connection and tries again after a backoff delay. */
  private restart(): void {
    if (this.finished) return;
    this.socket.disconnect();
    this.scheduleManualReconnect();
  }

  private scheduleManualReconnect(): void {
    if (this.finished || this.reconnectTimer) return;
    const delayMs = this.manualBackoff.nextDelayMs();
    this.options.logger.debug(`reconnecting to ${this.options.serverUrl} in ${delayMs}ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.finished) this.socket.connect();
    }, delayMs);
  }

  /** Only an authenticated connection carries calls; one made before (or without a door) is refused. */
  private onEngineCall(call: EngineCall): void {
    if (this.session) {
      this.session.requests['engine.call'](call);
      return;
    }
    const id = (call as Partial<EngineCall> | undefined)?.stream;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || !this.socket.connected) return;
    const message = this.options.door
      ? 'the agent has not finished authenticating its link'
      : 'this agent serves no Engine API calls';
    this.socket.emit('stream.reset', id, { kind: 'unavailable', message });
  }

  private openSession(): void {
    this.closeSession();
    const { door } = this.options;
    if (!door) return;
    const closed = new AbortController();
    const session: PlaneSession = {
      emit: (event, ...args) => {
        if (closed.signal.aborted || !this.socket.connected) return;
        this.socket.emit(event, ...args);
      },
      closed: closed.signal,
    };
    this.session = { requests: door.open(session), closed };
  }

  private closeSession(): void {
    const session = this.session;
    this.session = undefined;
    session?.closed.abort();
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => {
      this.sendHeartbeat().catch((error: unknown) => {
        this.options.logger.warn(`cannot send a heartbeat: ${errorMessage(error)}`);
      });
    }, this.options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
  }

  private async sendHeartbeat(): Promise<void> {
    if (this.heartbeatInFlight || !this.authenticated) return;
    this.heartbeatInFlight = true;
    try {
      const inventory = await this.options.collectInventory();
      // A disconnected socket.io client buffers emits and replays them on reconnect, before the
      // new challenge is answered; a heartbeat must never travel that way.
      if (this.authenticated && this.socket.connected) this.socket.emit('heartbeat', inventory);
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private finish(outcome: LinkOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.authenticated = false;
    this.closeSession();
    this.stopHeartbeat();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.socket.disconnect();
    this.resolveOutcome?.(outcome);
  }
}

function asErrorBody(value: unknown): ErrorBody {
  const candidate = value as Partial<ErrorBody> | undefined;
  return {
    kind: typeof candidate?.kind === 'string' ? candidate.kind : 'internal',
    message: typeof candidate?.message === 'string' ? candidate.message : 'no reason given',
  };
}

/** engine.io reports transport failures as "websocket error" and keeps the cause in `description`. */
function describeConnectError(error: Error): string {
  const description = (error as Error & { description?: unknown }).description;
  const detail =
    description instanceof Error
      ? errorMessage(description)
      : typeof (description as { message?: unknown } | undefined)?.message === 'string'
        ? (description as { message: string }).message
        : undefined;
  return detail && detail !== error.message ? `${error.message}: ${detail}` : error.message;
}
