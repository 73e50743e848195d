import type { ErrorBody } from './error-kind.js';
import type { HostSummary } from './host.js';
import type { EngineCallHead, StreamFrameEvents } from './link-streams.js';
import type { ProvisioningJobSummary } from './provisioning.js';

/** The Socket.IO namespace browsers subscribe to for live updates. */
export const CONSOLE_NAMESPACE = '/console';

/** Events the server pushes to a console. */
export interface ConsoleEvents extends StreamFrameEvents {
  /** Sent once on connection: every host the user may see. */
  'hosts.snapshot': (hosts: HostSummary[]) => void;
  /** A host was added or changed (status, inventory, name). */
  'host.updated': (host: HostSummary) => void;
  /** A host was revoked. */
  'host.removed': (event: { id: string }) => void;
  /** One Docker event of a visible host, while the console is subscribed to the fleet feed. */
  'fleet.event': (event: FleetEvent) => void;
  /** A provisioning job changed (a step started, printed or ended); to consoles with host.manage on every host. */
  'provisioning.job': (job: ProvisioningJobSummary) => void;
}

/** A console asks the server to make an Engine API call on a host for it. */
export interface ConsoleEngineOpen {
  /**
   * The stream number the answer arrives on, chosen by the console (unique among its open
   * streams) so it can listen before it asks. The console writes nothing on it before the ack.
   */
  stream: number;
  hostId: string;
  method: string;
  /** The Engine API path with its query, e.g. `/containers/web/logs?follow=1&stdout=1`. */
  path: string;
  /** The JSON body, if any (exec start's `{Detach:false,Tty:true}`, a create's config). */
  body?: unknown;
}

/**
 * The answer to `engine.open`: the head of the call's answer, whose body (for attach and exec,
 * the session's output) arrives on the console's stream. For attach and exec the console writes
 * the session's stdin on the same stream; resizing is its own call (`POST /exec/{id}/resize`).
 */
export type ConsoleEngineOpenResult = { ok: true; head: EngineCallHead } | { ok: false; error: ErrorBody };

/** One Docker event of one host on the fleet-wide feed. */
export interface FleetEvent {
  hostId: string;
  hostName: string;
  event: Record<string, unknown>;
}

/** Events a console sends the server. */
export interface ConsoleClientEvents extends StreamFrameEvents {
  'engine.open': (request: ConsoleEngineOpen, ack: (result: ConsoleEngineOpenResult) => void) => void;
  /** Starts the fleet-wide event feed for this console (`fleet.event`). */
  'fleet.events.subscribe': (ack: (result: { ok: boolean; error?: ErrorBody }) => void) => void;
  'fleet.events.unsubscribe': () => void;
}
