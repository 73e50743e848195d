import type { EngineCallAgentEvents, EngineCallServerEvents, StreamFrameEvents } from '@skiff/protocol';

/** What the server asks of a door on the link: Engine API calls and the frames of their streams. */
export type DoorRequests = StreamFrameEvents & EngineCallServerEvents;

/** What a door answers with: heads of Engine API calls and the frames of their streams. */
export type DoorAnswers = StreamFrameEvents & EngineCallAgentEvents;

/** One authenticated connection of the link, as a door on it sees it. */
export interface PlaneSession {
  /**
   * Sends to the server on this connection; does nothing once it is gone (socket.io would
   * otherwise replay the event on the next connection, where stream numbers mean other calls).
   */
  emit<E extends keyof DoorAnswers>(event: E, ...args: Parameters<DoorAnswers[E]>): void;
  /** Aborted when this connection is lost or the link stops. */
  readonly closed: AbortSignal;
}

/** Serves the server's requests on each authenticated connection of the link (see EngineDoor). */
export interface PlaneDoor {
  /** A connection was authenticated: returns the handlers of the server's requests on it. */
  open(session: PlaneSession): DoorRequests;
}
