import { Injectable, effect, inject, signal, untracked } from '@angular/core';
import type { HostSummary } from '@skiff/protocol';

import { ConsoleSocket } from '../../core/realtime/console-socket';

/** The hosts the signed-in user may see, kept current by the console socket. */
@Injectable({ providedIn: 'root' })
export class HostsFeed {
  private readonly socket = inject(ConsoleSocket);

  private readonly list = signal<readonly HostSummary[]>([]);
  private readonly received = signal(false);

  /** Sorted by name, so rows do not jump around when a host changes. */
  readonly hosts = this.list.asReadonly();
  /** False until the first snapshot of this connection arrives. */
  readonly loaded = this.received.asReadonly();

  constructor() {
    this.socket.on('hosts.snapshot', (hosts) => {
      this.list.set(sortByName(hosts));
      this.received.set(true);
    });
    this.socket.on('host.updated', (host) => {
      this.list.update((hosts) => sortByName([...hosts.filter((known) => known.id !== host.id), host]));
    });
    this.socket.on('host.removed', ({ id }) => {
      this.list.update((hosts) => hosts.filter((known) => known.id !== id));
    });
    // Signed out: forget the previous user's hosts before anyone else signs in.
    effect(() => {
      if (this.socket.state() === 'idle') {
        untracked(() => {
          this.list.set([]);
          this.received.set(false);
        });
      }
    });
  }
}

function sortByName(hosts: readonly HostSummary[]): HostSummary[] {
  return [...hosts].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}
