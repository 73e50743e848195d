import type { ErrorBody } from './error-kind.js';
import type { HostInventory } from './host.js';
import type { EngineCallAgentEvents, EngineCallServerEvents, StreamFrameEvents } from './link-streams.js';

/** The Socket.IO namespace agents dial into. */
export const AGENT_NAMESPACE = '/agents';

/** Where an agent presents its join token once, over plain HTTPS. */
export const ENROL_PATH = '/api/agents/enrol';

/** How often a connected agent says it is alive. */
export const HEARTBEAT_INTERVAL_MS = 3_000;

/** A host whose agent has said nothing for this long is offline. */
export const OFFLINE_AFTER_MS = 10_000;

/** An agent that has not answered the challenge within this time is disconnected. */
export const AUTH_TIMEOUT_MS = 10_000;

export interface EnrolRequest {
  joinToken: string;
  /** The agent's Ed25519 public key, SPKI DER in base64. */
  publicKey: string;
  /** The host's name as the agent proposes it (its hostname unless told otherwise). */
  name: string;
  /** Ed25519 signature, base64, of `enrolmentPayload(joinToken, publicKey)`: proves the key is held. */
  signature: string;
}

export interface EnrolResponse {
  hostId: string;
  name: string;
}

export interface AuthChallenge {
  /** Fresh random bytes, base64url, valid for this connection only. */
  nonce: string;
}

export interface AuthResponse {
  hostId: string;
  /** Ed25519 signature, base64, of `challengePayload(nonce, hostId)`. */
  signature: string;
  inventory: HostInventory;
}

export type AuthResult = { ok: true; hostId: string; name: string } | { ok: false; error: ErrorBody };

/** Events the server sends to an agent. */
export interface ServerToAgentEvents extends StreamFrameEvents, EngineCallServerEvents {
  'auth.challenge': (challenge: AuthChallenge) => void;
  /** The host was revoked or its key no longer accepted: the agent must stop reconnecting. */
  'auth.revoked': (error: ErrorBody) => void;
}

/** Events an agent sends to the server. */
export interface AgentToServerEvents extends StreamFrameEvents, EngineCallAgentEvents {
  'auth.response': (response: AuthResponse, ack: (result: AuthResult) => void) => void;
  heartbeat: (inventory: HostInventory) => void;
}
