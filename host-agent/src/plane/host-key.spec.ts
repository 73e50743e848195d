import { challengePayload, enrolmentPayload } from '@skiff/protocol';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HostKey } from './host-key.js';

/** Verifies the way the server does: from the stored base64 SPKI DER public key alone. */
function verifiesWith(publicKey: string, payload: Buffer, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
  return verify(null, payload, key, Buffer.from(signature, 'base64'));
}

describe(HostKey.name, () => {
  it('signs the enrolment payload so that the public key verifies it', () => {
    const key = HostKey.generate();
    const payload = enrolmentPayload('join-token-1', key.publicKey);

    expect(verifiesWith(key.publicKey, payload, key.sign(payload))).toBe(true);
  });

  it('signs the challenge payload so that the public key verifies it', () => {
    const key = HostKey.generate();
    const payload = challengePayload('nonce-1', 'host-1');

    expect(verifiesWith(key.publicKey, payload, key.sign(payload))).toBe(true);
  });

  it('makes a signature that does not verify for another nonce or another key', () => {
    const key = HostKey.generate();
    const signature = key.sign(challengePayload('nonce-1', 'host-1'));

    expect(verifiesWith(key.publicKey, challengePayload('nonce-2', 'host-1'), signature)).toBe(false);
    expect(verifiesWith(HostKey.generate().publicKey, challengePayload('nonce-1', 'host-1'), signature)).toBe(false);
  });

  it('publishes an Ed25519 public key as base64 SPKI DER', () => {
    const publicKey = createPublicKey({
      key: Buffer.from(HostKey.generate().publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });

    expect(publicKey.asymmetricKeyType).toBe('ed25519');
  });

  it('survives a round trip through PEM', () => {
    const key = HostKey.generate();

    const reloaded = HostKey.fromPem(key.toPem());

    expect(reloaded.publicKey).toBe(key.publicKey);
    expect(key.toPem()).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('refuses a private key that is not Ed25519', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    expect(() => HostKey.fromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())).toThrow(
      'expected an ed25519 key, found ec',
    );
  });
});
