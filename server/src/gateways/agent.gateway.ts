import { Logger } from '@nestjs/common';
import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { AGENT_NAMESPACE, AUTH_TIMEOUT_MS, type AuthResponse, type AuthResult, type ErrorBody } from '@skiff/protocol';
import { randomBytes } from 'node:crypto';
import type { Namespace } from 'socket.io';
import { DomainError } from '../errors/domain-error.js';
import type { AgentSocket } from '../repositories/agent-link.repository.js';
import type { RequestOrigin } from '../services/actor.js';
import { HostService } from '../services/host.service.js';

interface AgentSocketData {
  /** This connection's challenge; cleared once answered, so it can be answered only once. */
  nonce: string | null;
  hostId?: string;
  /** The heartbeat being recorded; the next waits for it, so a later report never loses to an earlier one. */
  heartbeat?: Promise<void>;
}

/**
 * The `/agents` namespace. Every connection starts unauthenticated: the server sends a fresh nonce,
 * the agent signs it with its enrolled key, and only then does anything else count.
 */
@WebSocketGateway({ namespace: AGENT_NAMESPACE })
export class AgentGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('agents');

  @WebSocketServer()
  namespace!: Namespace;

  constructor(private readonly hosts: HostService) {}

  handleConnection(socket: AgentSocket): void {
    const data = socket.data as AgentSocketData;
    data.nonce = randomBytes(32).toString('base64url');
    const origin: RequestOrigin = {
      address: socket.handshake.address,
      userAgent: socket.handshake.headers['user-agent'] ?? null,
    };
    const timer = setTimeout(() => {
      if (!data.hostId) socket.disconnect(true);
    }, AUTH_TIMEOUT_MS);
    socket.once('disconnect', () => clearTimeout(timer));

    socket.on('auth.response', (response: AuthResponse, ack: (result: AuthResult) => void) => {
      if (typeof ack !== 'function') return;
      void this.authenticate(socket, data, response, origin).then(ack, (error: unknown) => {
        ack({ ok: false, error: errorBody(error, this.logger) });
        socket.disconnect(true);
      });
    });
    socket.on('heartbeat', (inventory) => {
      const hostId = data.hostId;
      if (!hostId) return;
      data.heartbeat = (data.heartbeat ?? Promise.resolve())
        .then(() => this.hosts.heartbeat(hostId, inventory))
        .catch((error: unknown) => {
          this.logger.warn(`heartbeat of host ${hostId}: ${errorBody(error, this.logger).message}`);
        });
    });
    socket.emit('auth.challenge', { nonce: data.nonce });
  }

  handleDisconnect(socket: AgentSocket): void {
    const { hostId } = socket.data as AgentSocketData;
    if (!hostId) return;
    this.hosts.agentDisconnected(hostId, socket).catch((error: unknown) => {
      this.logger.warn(
        `could not mark host ${hostId} offline: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  private async authenticate(
    socket: AgentSocket,
    data: AgentSocketData,
    response: AuthResponse,
    origin: RequestOrigin,
  ): Promise<AuthResult> {
    const nonce = data.nonce;
    data.nonce = null;
    if (!nonce || data.hostId)
      throw new DomainError('invalid-argument', 'this connection already answered its challenge');
    const host = await this.hosts.authenticateAgent(socket, nonce, response, origin);
    if (socket.disconnected) throw new DomainError('unavailable', 'the link closed during authentication');
    data.hostId = host.id;
    this.logger.log(`host ${host.name} (${host.id}) is online from ${origin.address ?? 'unknown address'}`);
    return { ok: true, hostId: host.id, name: host.name };
  }
}

function errorBody(error: unknown, logger: Logger): ErrorBody {
  if (error instanceof DomainError) return { kind: error.kind, message: error.message };
  logger.error('agent link error', error instanceof Error ? error.stack : String(error));
  return { kind: 'internal', message: 'internal error; see the server log' };
}
