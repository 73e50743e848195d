import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import {
  AGENT_NAMESPACE,
  type AuthResult,
  type HostInventory,
  challengePayload,
  enrolmentPayload,
} from '@skiff/protocol';
import { io, type Socket } from 'socket.io-client';

/**
 * The agent side of enrolment and the challenge, done by hand with a real key, so tests can also
 * do it wrong on purpose (forge, replay, reuse). The real agent is exercised end to end in test/e2e.
 */
export class AgentKey {
  readonly publicKey: string;
  private readonly privateKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('ed25519');
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  }

  enrolBody(joinToken: string, name = 'web-01') {
    return {
      joinToken,
      publicKey: this.publicKey,
      name,
      signature: this.sign(enrolmentPayload(joinToken, this.publicKey)),
    };
  }

  sign(payload: Buffer): string {
    return sign(null, payload, this.privateKey).toString('base64');
  }

  answer(nonce: string, hostId: string): string {
    return this.sign(challengePayload(nonce, hostId));
  }
}

export const inventory: HostInventory = {
  hostname: 'web-01',
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.18.0',
  architecture: 'x64',
  cpus: 2,
  memoryBytes: 24 * 2 ** 30,
  cgroupVersion: 'v1',
  agentVersion: '0.1.0',
};

export interface Link {
  socket: Socket;
  nonce: string;
}

/** Opens an agent link and waits for the server's challenge. */
export function openLink(baseUrl: string): Promise<Link> {
  return new Promise((resolve, reject) => {
    const socket = io(`${baseUrl}${AGENT_NAMESPACE}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    socket.once('auth.challenge', ({ nonce }: { nonce: string }) => resolve({ socket, nonce }));
    socket.once('connect_error', reject);
  });
}

export function respond(link: Link, hostId: string, signature: string): Promise<AuthResult> {
  return link.socket
    .timeout(5_000)
    .emitWithAck('auth.response', { hostId, signature, inventory }) as Promise<AuthResult>;
}
