import { Injectable } from '@nestjs/common';
import type { ConsoleEvents, HostSummary } from '@skiff/protocol';
import type { Namespace } from 'socket.io';
import type { Actor } from '../services/actor.js';

/** Pushes changes to every connected console. */
@Injectable()
export class ConsoleFeedRepository {
  private namespace: Namespace<Record<string, never>, ConsoleEvents> | undefined;

  attach(namespace: Namespace<Record<string, never>, ConsoleEvents>): void {
    this.namespace = namespace;
  }

  hostUpdated(host: HostSummary): void {
    this.namespace?.emit('host.updated', host);
  }

  hostRemoved(id: string): void {
    this.namespace?.emit('host.removed', { id });
  }

  /** Closes the live feeds opened with a session that has just ended. */
  endSession(sessionId: string): void {
    for (const socket of this.namespace?.sockets.values() ?? []) {
      if ((socket.data as { actor?: Actor }).actor?.sessionId === sessionId) socket.disconnect(true);
    }
  }
}
