import type { HostSummary } from './host.js';

/** The Socket.IO namespace browsers subscribe to for live updates. */
export const CONSOLE_NAMESPACE = '/console';

/** Events the server pushes to a console. */
export interface ConsoleEvents {
  /** Sent once on connection: every host the user may see. */
  'hosts.snapshot': (hosts: HostSummary[]) => void;
  /** A host was added or changed (status, inventory, name). */
  'host.updated': (host: HostSummary) => void;
  /** A host was revoked. */
  'host.removed': (event: { id: string }) => void;
}
