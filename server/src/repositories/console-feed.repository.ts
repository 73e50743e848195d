import { Injectable } from '@nestjs/common';
import type { ConsoleClientEvents, ConsoleEvents, HostSummary, ProvisioningJobSummary } from '@skiff/protocol';
import type { Namespace } from 'socket.io';
import type { Access } from '../services/access.js';
import type { Actor } from '../services/actor.js';

/** What the console gateway keeps on each console socket. */
export interface ConsoleSocketData {
  actor?: Actor;
  /** The caller's access, refreshed while connected. */
  access?: Access;
}

/** Pushes changes to every connected console. */
@Injectable()
export class ConsoleFeedRepository {
  private namespace: Namespace<ConsoleClientEvents, ConsoleEvents> | undefined;

  attach(namespace: Namespace<ConsoleClientEvents, ConsoleEvents>): void {
    this.namespace = namespace;
  }

  /** Tells the consoles that may see the host (their access is kept on the socket by the gateway). */
  hostUpdated(host: HostSummary & { labels: Record<string, string> }): void {
    for (const socket of this.namespace?.sockets.values() ?? []) {
      const { access } = socket.data as ConsoleSocketData;
      if (access?.allows('host.view', host)) socket.emit('host.updated', host);
    }
  }

  /** A provisioning job changed: to the consoles that may provision (host.manage on every host). */
  provisioningJob(job: ProvisioningJobSummary): void {
    for (const socket of this.namespace?.sockets.values() ?? []) {
      const { access } = socket.data as ConsoleSocketData;
      if (access?.allowsGlobally('host.manage')) socket.emit('provisioning.job', job);
    }
  }

  hostRemoved(id: string): void {
    this.namespace?.emit('host.removed', { id });
  }

  /** Closes the live feeds opened with a session that has just ended. */
  endSession(sessionId: string): void {
    for (const socket of this.namespace?.sockets.values() ?? []) {
      if ((socket.data as ConsoleSocketData).actor?.sessionId === sessionId) socket.disconnect(true);
    }
  }
}
