/*
 * The exact bytes an agent signs. Both sides build them here, so a change of format is one change.
 * Each payload starts with its purpose, so a signature made for one step is useless for another.
 */

export function enrolmentPayload(joinToken: string, publicKey: string): Buffer {
  return Buffer.from(`skiff-enrol-v1\n${joinToken}\n${publicKey}`, 'utf8');
}

export function challengePayload(nonce: string, hostId: string): Buffer {
  return Buffer.from(`skiff-agent-auth-v1\n${nonce}\n${hostId}`, 'utf8');
}
