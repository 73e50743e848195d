import { Injectable } from '@nestjs/common';
import type { AgentToServerEvents, ErrorBody, ServerToAgentEvents } from '@skiff/protocol';
import type { Namespace, Socket } from 'socket.io';

export type AgentSocket = Socket<AgentToServerEvents, ServerToAgentEvents>;

/** The live agent connections of this server replica, one per host. */
@Injectable()
export class AgentLinkRepository {
  private readonly byHost = new Map<string, AgentSocket>();

  /** Records `socket` as the host's link; an older link of the same host is cut. */
  register(hostId: string, socket: AgentSocket): void {
    const previous = this.byHost.get(hostId);
    this.byHost.set(hostId, socket);
    if (previous && previous.id !== socket.id) previous.disconnect(true);
  }

  /** True when `socket` is still the host's current link (an older one may close after a newer one registered). */
  forget(hostId: string, socket: AgentSocket): boolean {
    if (this.byHost.get(hostId)?.id !== socket.id) return false;
    this.byHost.delete(hostId);
    return true;
  }

  /** Tells the agent why and closes its link at once. */
  cut(hostId: string, reason: ErrorBody): void {
    const socket = this.byHost.get(hostId);
    if (!socket) return;
    this.byHost.delete(hostId);
    socket.emit('auth.revoked', reason);
    socket.disconnect(true);
  }

  isConnected(hostId: string): boolean {
    return this.byHost.has(hostId);
  }

  closeAll(namespace: Namespace | undefined): void {
    this.byHost.clear();
    namespace?.disconnectSockets(true);
  }
}
